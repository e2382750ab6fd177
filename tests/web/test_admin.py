"""The admin for coordinators: their community's rows only, and a history nobody edits."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mutualaid.aid import services
from mutualaid.aid.demo import _grant_coordinator_admin
from mutualaid.aid.models import Category, HelpRequest, StatusChange
from mutualaid.aid.places import Location
from tests.conftest import make_user, make_volunteer, offer_of, post_request

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
    client.force_login(coordinator)
    return client


@pytest.fixture
def superuser_client(client, community):
    client.force_login(make_user("root", None, is_superuser=True, is_staff=True))
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
    assert foreign_choices(form, ["category", "requester", "created_by"], other_community) == {}
    assert "herent-citizen" not in response.content.decode()


def test_a_coordinators_volunteer_form_offers_only_their_communitys_skills_and_people(
    admin_client, volunteer, herent_volunteer, other_community
):
    response = admin_client.get(reverse("admin:aid_volunteeroffer_change", args=[offer_of(volunteer).pk]))

    form = response.context["adminform"].form
    assert foreign_choices(form, ["skills", "volunteer"], other_community) == {}
    assert "herent-volunteer" not in response.content.decode()


def test_a_coordinators_list_filters_name_only_their_communitys_categories(
    admin_client, help_request, volunteer, gardening
):
    requests_page = admin_client.get(reverse("admin:aid_helprequest_changelist")).content.decode()
    offers_page = admin_client.get(reverse("admin:aid_volunteeroffer_changelist")).content.decode()

    assert "Gardening" not in requests_page
    assert "Gardening" not in offers_page


def test_a_citizen_without_staff_status_cannot_use_the_admin(client, citizen, help_request):
    client.force_login(citizen)

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
