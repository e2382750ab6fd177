"""The admin for coordinators: their community's rows only, and a history nobody edits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.demo import _grant_coordinator_admin
from mutualaid.aid.models import AuditEntry, Category, HelpRequest, StatusChange
from mutualaid.aid.places import Location
from tests.conftest import make_user, make_volunteer, offer_of, post_request, sign_in, weekly_help

HERENT = Location(50.9070, 4.6720, "Kerkstraat 1, 3020 Herent", "Herent")


@pytest.fixture
def gardening(other_community) -> Category:
    return Category.objects.create(community=other_community, slug="gardening", name="Gardening")


@pytest.fixture
def herent_request(other_community, gardening) -> HelpRequest:
    herent_citizen = make_user("herent-citizen", other_community, last_name="Janssens")
    return post_request(herent_citizen, other_community, gardening, location=HERENT)


@pytest.fixture
def herent_volunteer(other_community, gardening):
    return make_volunteer("herent-volunteer", other_community, [gardening], HERENT)


@pytest.fixture
def admin_client(client, coordinator):
    """The Leuven coordinator, logged in to the admin with the demo's permissions."""
    _grant_coordinator_admin(coordinator)
    sign_in(client, coordinator)
    return client


@pytest.fixture
def superuser_client(client, community):
    sign_in(client, make_user("root", None, is_superuser=True, is_staff=True))
    return client


def changelist_rows(response) -> set:
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


def test_a_coordinator_sees_only_their_communitys_help_requests(admin_client, help_request, herent_request):
    response = admin_client.get(reverse("admin:aid_helprequest_changelist"))

    assert changelist_rows(response) == {help_request}
    assert reverse("admin:aid_helprequest_change", args=[herent_request.pk]) not in response.content.decode()


def test_a_coordinator_sees_only_their_communitys_volunteers(admin_client, volunteer, herent_volunteer):
    response = admin_client.get(reverse("admin:aid_volunteeroffer_changelist"))

    assert changelist_rows(response) == {offer_of(volunteer)}
    assert "herent-volunteer" not in response.content.decode()


def test_a_coordinator_sees_only_their_communitys_people(admin_client, coordinator, citizen, herent_request):
    rows = changelist_rows(admin_client.get(reverse("admin:accounts_user_changelist")))

    assert {user.username for user in rows} == {"coordinator", "citizen"}


def test_a_coordinator_sees_only_their_communitys_history(admin_client, proposal, herent_request):
    rows = changelist_rows(admin_client.get(reverse("admin:aid_statuschange_changelist")))

    assert rows == set(StatusChange.objects.filter(help_request=proposal.help_request))
    assert rows


def test_a_coordinator_opens_a_help_request_of_their_community(admin_client, help_request):
    response = admin_client.get(reverse("admin:aid_helprequest_change", args=[help_request.pk]))

    assert response.status_code == 200
    assert "Naamsestraat 12, 3000 Leuven" in response.content.decode()


@pytest.mark.parametrize(
    ("model", "row"),
    [
        ("helprequest", "herent_request"),
        ("volunteeroffer", "herent_offer"),
        ("statuschange", "herent_change"),
    ],
)
def test_a_coordinator_cannot_open_a_row_of_another_community(
    request, admin_client, herent_volunteer, model, row
):
    herent_request = request.getfixturevalue("herent_request")
    target = {
        "herent_request": herent_request,
        "herent_offer": offer_of(herent_volunteer),
        "herent_change": StatusChange.objects.filter(help_request=herent_request).first(),
    }[row]

    response = admin_client.get(reverse(f"admin:aid_{model}_change", args=[target.pk]))

    # The admin treats a row outside the queryset as missing: back to the index.
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response.url == reverse("admin:index")
    assert "Kerkstraat" not in response.content.decode()


def test_a_coordinator_cannot_change_a_help_request_of_another_community(admin_client, herent_request):
    url = reverse("admin:aid_helprequest_change", args=[herent_request.pk])

    response = admin_client.post(url, {"description": "Changed by Leuven"})

    assert response.status_code in (302, 404)
    assert HelpRequest.objects.get(pk=herent_request.pk).description == "Groceries for the week, please."


def foreign_choices(form, fields, other_community) -> dict[str, list[str]]:
    """The choices of each field that belong to another community (nothing, if all is well)."""
    leaks = {}
    for field in fields:
        for choice in form.fields[field].queryset:
            if getattr(choice, "community_id", None) == other_community.pk:
                leaks.setdefault(field, []).append(str(choice))
    return leaks


def test_a_coordinators_help_request_form_offers_only_their_communitys_categories_and_people(
    admin_client, help_request, herent_request, other_community
):
    response = admin_client.get(reverse("admin:aid_helprequest_change", args=[help_request.pk]))

    form = response.context["adminform"].form
    assert set(form.fields["community"].queryset) == {help_request.community}
    assert foreign_choices(form, ["category"], other_community) == {}
    # Whose request it is changes only through the audited "attach" (the caller's account).
    assert "requester" not in form.fields and "created_by" not in form.fields
    assert "herent-citizen" not in response.content.decode()


def test_a_coordinators_volunteer_form_offers_only_their_communitys_skills_and_people(
    admin_client, volunteer, herent_volunteer, other_community
):
    response = admin_client.get(reverse("admin:aid_volunteeroffer_change", args=[offer_of(volunteer).pk]))

    form = response.context["adminform"].form
    assert foreign_choices(form, ["skills"], other_community) == {}
    assert "volunteer" not in form.fields  # an offer stays with its volunteer
    assert "herent-volunteer" not in response.content.decode()


def test_a_coordinators_list_filters_name_only_their_communitys_categories(
    admin_client, help_request, volunteer, gardening
):
    requests_page = admin_client.get(reverse("admin:aid_helprequest_changelist")).content.decode()
    offers_page = admin_client.get(reverse("admin:aid_volunteeroffer_changelist")).content.decode()

    assert "Gardening" not in requests_page
    assert "Gardening" not in offers_page


def test_a_citizen_without_staff_status_cannot_use_the_admin(client, citizen, help_request):
    sign_in(client, citizen)

    response = client.get(reverse("admin:aid_helprequest_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_a_coordinator_cannot_change_a_help_requests_status_in_the_admin(admin_client, help_request):
    response = admin_client.get(reverse("admin:aid_helprequest_change", args=[help_request.pk]))

    assert "status" not in response.context["adminform"].form.fields


# The history is read-only, for everyone


@pytest.fixture(params=["coordinator", "superuser"])
def any_admin_client(request, help_request):
    return request.getfixturevalue("admin_client" if request.param == "coordinator" else "superuser_client")


def test_the_history_can_be_listed_and_viewed(any_admin_client, help_request):
    change = StatusChange.objects.get(help_request=help_request)

    listed = any_admin_client.get(reverse("admin:aid_statuschange_changelist"))
    viewed = any_admin_client.get(reverse("admin:aid_statuschange_change", args=[change.pk]))

    assert change in changelist_rows(listed)
    assert viewed.status_code == 200
    assert viewed.context["has_change_permission"] is False
    assert viewed.context["has_delete_permission"] is False
    assert 'name="_save"' not in viewed.content.decode()


def test_the_history_cannot_be_added_to(any_admin_client):
    assert any_admin_client.get(reverse("admin:aid_statuschange_add")).status_code == 403


def test_the_history_cannot_be_changed(any_admin_client, help_request):
    change = StatusChange.objects.get(help_request=help_request)

    response = any_admin_client.post(
        reverse("admin:aid_statuschange_change", args=[change.pk]),
        {"subject": "request", "from_status": "", "to_status": "done", "reason": "forged"},
    )

    assert response.status_code == 403
    change.refresh_from_db()
    assert (change.to_status, change.reason) == ("open", "created")


def test_the_history_cannot_be_deleted(any_admin_client, help_request):
    change = StatusChange.objects.get(help_request=help_request)

    response = any_admin_client.post(
        reverse("admin:aid_statuschange_delete", args=[change.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert StatusChange.objects.filter(pk=change.pk).exists()


def test_the_history_cannot_be_bulk_deleted_from_the_list(any_admin_client, help_request):
    change = StatusChange.objects.get(help_request=help_request)

    any_admin_client.post(
        reverse("admin:aid_statuschange_changelist"),
        {"action": "delete_selected", "_selected_action": [change.pk], "post": "yes"},
    )

    assert StatusChange.objects.filter(pk=change.pk).exists()


def test_the_history_shown_inside_a_help_request_cannot_be_edited(any_admin_client, proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    response = any_admin_client.get(reverse("admin:aid_helprequest_change", args=[proposal.help_request_id]))

    inline = next(
        formset for formset in response.context["inline_admin_formsets"] if formset.opts.model is StatusChange
    )
    assert not inline.has_add_permission
    assert inline.formset.can_delete is False
    assert inline.formset.forms
    for form in inline.formset.forms:
        # Only the hidden keys that tie a row to its request remain as form fields.
        assert set(form.fields) <= {"id", "help_request"}


# Every change made in the admin is a recorded action, and coordinators read the record


def test_a_coordinator_reads_their_communitys_audit_log_without_an_extra_permission(
    admin_client, coordinator, help_request, volunteer, outsider_coordinator, herent_request
):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="neighbours"
    )
    services.help_request_cancel(help_request=herent_request, actor=outsider_coordinator, reason="x")

    rows = changelist_rows(admin_client.get(reverse("admin:aid_auditentry_changelist")))

    assert {(entry.action, entry.community_id) for entry in rows} == {("assign", help_request.community_id)}
    other = AuditEntry.objects.get(action="cancel")
    assert admin_client.get(reverse("admin:aid_auditentry_change", args=[other.pk])).status_code in (302, 404)


def admin_form_data(response) -> dict:
    """What the admin's change form would post back unchanged."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, dt.datetime):  # the admin's split date and time widgets
            value = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.strftime("%H:%M:%S")
        elif isinstance(value, list | tuple):
            data[name] = [getattr(item, "pk", item) for item in value]
        elif value is None or value is False:
            continue
        else:
            data[name] = getattr(value, "pk", value)
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management.initial.get(name, 0)
        for index, inline_form in enumerate(formset.formset.forms):
            for name in inline_form.fields:
                value = inline_form.initial.get(name)
                if value is not None:
                    data[f"{formset.formset.prefix}-{index}-{name}"] = getattr(value, "pk", value)
    return data


def test_a_coordinators_change_in_the_admin_is_audited_with_before_and_after(
    admin_client, coordinator, help_request, pharmacy
):
    url = reverse("admin:aid_helprequest_change", args=[help_request.pk])
    data = admin_form_data(admin_client.get(url))
    data |= {"category": pharmacy.pk, "urgency": 3, "address": "Bondgenotenlaan 1, 3000 Leuven"}

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.get(action="admin_change")
    assert (entry.actor, entry.community_id, entry.subject) == (
        coordinator,
        help_request.community_id,
        f"help_request:{help_request.pk}",
    )
    assert entry.before["category"] == help_request.category_id and entry.after["category"] == pharmacy.pk
    assert (entry.before["urgency"], entry.after["urgency"]) == (1, 3)
    # Personal values are not copied into the append-only log; the change itself is.
    assert entry.before["address"] == entry.after["address"] == "(personal data: changed)"
    assert "Bondgenotenlaan" not in str(entry.after) and "Naamsestraat" not in str(entry.before)


def test_giving_someone_the_coordinator_role_in_the_admin_is_audited(superuser_client, citizen):
    url = reverse("admin:accounts_user_change", args=[citizen.pk])
    data = admin_form_data(superuser_client.get(url))
    data |= {"is_coordinator": "on", "is_staff": "on"}

    response = superuser_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    entry = AuditEntry.objects.get(action="admin_change", subject=f"user:{citizen.pk}")
    roles = ("is_coordinator", "is_staff")
    assert {role: entry.before[role] for role in roles} == {"is_coordinator": False, "is_staff": False}
    assert {role: entry.after[role] for role in roles} == {"is_coordinator": True, "is_staff": True}
    assert entry.actor.is_superuser and "password" not in entry.after


def test_requests_and_assignments_cannot_be_deleted_in_the_admin(superuser_client, proposal):
    # Their history refers to them; a request is cancelled and its details purged instead.
    for model, pk in (("helprequest", proposal.help_request_id), ("assignment", proposal.pk)):
        response = superuser_client.post(reverse(f"admin:aid_{model}_delete", args=[pk]), {"post": "yes"})
        assert response.status_code == 403
    assert HelpRequest.objects.filter(pk=proposal.help_request_id).exists()


def test_a_coordinator_allowed_to_change_people_still_cannot_hand_out_powers(
    admin_client, coordinator, citizen
):
    from django.contrib.auth.models import Permission

    coordinator.user_permissions.add(Permission.objects.get(codename="change_user"))
    url = reverse("admin:accounts_user_change", args=[citizen.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    data = admin_form_data(response) | {"phone": "016 00 00 00"}
    data |= {"is_superuser": "on", "is_staff": "on", "is_coordinator": "on"}

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    citizen.refresh_from_db()
    assert citizen.phone == "016 00 00 00"
    assert not (citizen.is_superuser or citizen.is_staff or citizen.is_coordinator)
    after = AuditEntry.objects.get(action="admin_change").after
    assert after["phone"] == "(personal data: changed)" and "016" not in str(after)
    assert not set(after) & {"is_superuser", "is_staff", "is_coordinator"}


def test_only_a_superuser_sets_someone_elses_password_in_the_admin_and_it_is_recorded(
    admin_client, coordinator, citizen, client
):
    from django.contrib.auth.models import Permission

    coordinator.user_permissions.add(Permission.objects.get(codename="change_user"))
    url = reverse("admin:auth_user_password_change", args=[citizen.pk])
    new = {
        "password1": "Another-long-password-7",
        "password2": "Another-long-password-7",
        "usable_password": "true",
    }

    assert admin_client.post(url, new).status_code == 403
    citizen.refresh_from_db()
    assert not citizen.check_password(new["password1"])

    sign_in(client, make_user("root", None, is_superuser=True, is_staff=True))
    assert client.post(url, new).status_code == 302
    entry = AuditEntry.objects.get(action="admin_set_password")
    assert entry.subject == f"user:{citizen.pk}" and "Another" not in str(entry.after)


def test_a_coordinator_looks_up_their_communitys_weekly_help_and_changes_none(
    admin_client, citizen, community, shopping, other_community, gardening
):
    ours = weekly_help(citizen, community, shopping)
    theirs = weekly_help(
        make_user("herent-weekly", other_community), other_community, gardening, location=HERENT
    )

    assert changelist_rows(admin_client.get(reverse("admin:aid_helpseries_changelist"))) == {ours}
    assert admin_client.get(reverse("admin:aid_helpseries_change", args=[theirs.pk])).status_code in (
        302,
        404,
    )
    # Read-only: series change through the services, which keep their occurrences in step.
    page = admin_client.get(reverse("admin:aid_helpseries_change", args=[ours.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    response = admin_client.post(
        reverse("admin:aid_helpseries_change", args=[ours.pk]), {"description": "Something else"}
    )
    assert response.status_code == 403
    ours.refresh_from_db()
    assert ours.description == "Carry the shopping up four floors."
