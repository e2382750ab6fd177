"""People's data: what we hold about someone, forgetting them, and forgetting old tasks.

Deleting an account keeps the community's statistics true (a request still counts as
helped in its neighbourhood and category) while removing everything that says who, where
exactly, or what was written: names, contact details, addresses, descriptions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, HelpRequest, VolunteerOffer
from mutualaid.aid.places import coarse_point
from mutualaid.aid.states import CANCELLABLE_REQUEST_STATUSES, LIVE_ASSIGNMENT_STATUSES, RequestStatus

FORGOTTEN = "(removed)"


def personal_data_export(person: User) -> dict:
    """Everything the service holds about a person, as JSON-ready data."""
    requests = (
        HelpRequest.objects.filter(requester=person)
        .select_related("category")
        .prefetch_related("time_windows", "status_changes")
    )
    offer = VolunteerOffer.objects.filter(volunteer=person).prefetch_related("skills").first()
    assignments = Assignment.objects.filter(volunteer=person).select_related("help_request__category")
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "username": person.username,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "phone": person.phone,
            "community": person.community.name if person.community else None,
            "preferred_language": person.preferred_language,
            "email_notifications": person.email_notifications,
            "date_joined": person.date_joined.isoformat(),
        },
        "help_requests": [
            {
                "id": help_request.pk,
                "created_at": help_request.created_at.isoformat(),
                "category": help_request.category.label,
                "description": help_request.description,
                "urgency": help_request.urgency,
                "address": help_request.address,
                "latitude": help_request.latitude,
                "longitude": help_request.longitude,
                "status": help_request.status,
                "any_time": help_request.any_time,
                "time_windows": [
                    {"date": window.date.isoformat(), "part_of_day": window.get_part_of_day_display()}
                    for window in help_request.time_windows.all()
                ],
                "history": [
                    {"at": change.at.isoformat(), "subject": change.subject, "to": change.to_status}
                    for change in help_request.status_changes.all()
                ],
            }
            for help_request in requests
        ],
        "volunteer_offer": None
        if offer is None
        else {
            "skills": [skill.name for skill in offer.skills.all()],
            "address": offer.address,
            "latitude": offer.latitude,
            "longitude": offer.longitude,
            "max_km": offer.max_km,
            "availability": offer.availability,
            "capacity": offer.capacity,
            "is_paused": offer.is_paused,
        },
        # Tasks done for others: what and when, not whom (that is the other person's data).
        "tasks_as_volunteer": [
            {
                "category": assignment.help_request.category.label,
                "status": assignment.status,
                "proposed_at": assignment.proposed_at.isoformat(),
                "km": assignment.km,
                "hours_spent": assignment.hours_spent,
            }
            for assignment in assignments
        ],
    }


def _forget_request_details(help_request: HelpRequest) -> None:
    latitude, longitude = coarse_point(help_request.latitude, help_request.longitude)
    help_request.description = FORGOTTEN
    help_request.address = ""
    help_request.latitude, help_request.longitude = latitude, longitude
    help_request.contact_name = ""
    help_request.contact_phone = ""


def account_delete(*, person: User) -> None:
    """Release what they hold, then anonymise them and their requests for the statistics."""
    for help_request in HelpRequest.objects.filter(requester=person, status__in=CANCELLABLE_REQUEST_STATUSES):
        services.help_request_cancel(help_request=help_request, actor=person, reason="account deleted")
    for assignment in Assignment.objects.filter(volunteer=person, status__in=LIVE_ASSIGNMENT_STATUSES):
        services.assignment_withdraw(assignment=assignment, volunteer=person, reason="account deleted")
    with transaction.atomic():
        services.audit(
            actor=None,
            community_id=person.community_id,
            action="account_deleted",
            subject=f"user:{person.pk}",
        )
        for help_request in HelpRequest.objects.select_for_update().filter(requester=person):
            _forget_request_details(help_request)
            help_request.save()
        VolunteerOffer.objects.filter(volunteer=person).delete()
        person.username = f"deleted-{person.pk}"
        person.first_name = person.last_name = person.email = person.phone = ""
        person.is_active = False
        person.is_coordinator = False
        person.is_staff = False
        person.set_unusable_password()
        person.save()


def personal_data_purge(
    *, older_than_days: int | None = None, progress: Callable[[int, int], None] = lambda done, total: None
) -> int:
    """Forget the details of requests done or cancelled long ago; returns how many."""
    days = settings.PERSONAL_DATA_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - dt.timedelta(days=days)
    finished = HelpRequest.objects.filter(
        status__in=[RequestStatus.DONE, RequestStatus.CANCELLED], updated_at__lt=cutoff
    ).exclude(Q(description=FORGOTTEN) & Q(address="") & Q(contact_name="") & Q(contact_phone=""))
    ids = list(finished.values_list("pk", flat=True))
    for done, start in enumerate(range(0, len(ids), 200), start=1):
        with transaction.atomic():
            batch = list(HelpRequest.objects.select_for_update().filter(pk__in=ids[start : start + 200]))
            for help_request in batch:
                _forget_request_details(help_request)
            HelpRequest.objects.bulk_update(
                batch, ["description", "address", "latitude", "longitude", "contact_name", "contact_phone"]
            )
        progress(min(done * 200, len(ids)), len(ids))
    return len(ids)
