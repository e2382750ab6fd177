"""The volunteers' waiting list: closed sign-ups wait, first come first let in, all audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from matching.explain import WAITING_LIST, volunteers_for_request, why_no_proposal
from matching.services import propose_assignments
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, AuditEntry, Community
from notifications.models import OutgoingMessage
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, make_volunteer, offer_of, post_request, sign_in


def close_sign_ups(community, coordinator) -> Community:
    return services.community_set_volunteer_waiting_list(
        community=community, coordinator=coordinator, on=True
    )


def test_a_volunteer_who_signs_up_while_sign_ups_are_closed_waits(community, coordinator, shopping):
    close_sign_ups(community, coordinator)
    newcomer = make_volunteer("newcomer", community, [shopping], LADEUZEPLEIN)
    assert offer_of(newcomer).waiting_since is not None


def test_volunteers_already_signed_up_keep_helping_when_sign_ups_close(
    community, coordinator, shopping, citizen
):
    helper = make_volunteer("helper", community, [shopping], LADEUZEPLEIN)
    close_sign_ups(community, coordinator)
    # Changing their offer does not put them on the list either.
    services.volunteer_offer_set_paused(offer=offer_of(helper), paused=False)
    help_request = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert Assignment.objects.get(help_request=help_request).volunteer == helper


def test_matching_proposes_nothing_to_a_volunteer_on_the_waiting_list(
    community, coordinator, shopping, citizen
):
    close_sign_ups(community, coordinator)
    make_volunteer("newcomer", community, [shopping], LADEUZEPLEIN)
    help_request = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert not Assignment.objects.filter(help_request=help_request).exists()


def test_let_in_the_volunteer_gets_proposals_and_an_e_mail(community, coordinator, shopping, citizen):
    close_sign_ups(community, coordinator)
    newcomer = make_volunteer("newcomer", community, [shopping], LADEUZEPLEIN)
    newcomer.email, newcomer.preferred_language = "new@example.org", "en"
    newcomer.save(update_fields=["email", "preferred_language"])
    help_request = post_request(citizen, community, shopping)

    let_in = services.volunteers_let_in(
        community=community, coordinator=coordinator, volunteer_ids=[newcomer.pk]
    )
    propose_assignments(community=community)

    assert let_in == [newcomer.pk]
    assert offer_of(newcomer).waiting_since is None
    assert Assignment.objects.get(help_request=help_request).volunteer == newcomer
    mail = OutgoingMessage.objects.get(
        to_address="new@example.org", subject="You can start helping in Leuven"
    )
    assert "no longer on Leuven's waiting list" in mail.body
    entry = AuditEntry.objects.get(action="volunteer_let_in")
    assert entry.actor == coordinator and entry.subject == f"volunteer_offer:{offer_of(newcomer).pk}"


def test_the_first_come_are_let_in_first_and_the_others_move_up(community, coordinator, shopping):
    close_sign_ups(community, coordinator)
    first = make_volunteer("first", community, [shopping], LADEUZEPLEIN)
    second = make_volunteer("second", community, [shopping], KESSEL_LO)
    third = make_volunteer("third", community, [shopping], KESSEL_LO)
    assert services.waiting_list_position(offer_of(third)) == 3

    let_in = services.volunteers_let_in_first(community=community, coordinator=coordinator, how_many=2)

    assert let_in == [first.pk, second.pk]
    assert services.waiting_list_position(offer_of(third)) == 1
    assert services.waiting_list_position(offer_of(first)) is None


def test_opening_sign_ups_again_is_audited_and_new_volunteers_no_longer_wait(
    community, coordinator, shopping
):
    close_sign_ups(community, coordinator)
    services.community_set_volunteer_waiting_list(community=community, coordinator=coordinator, on=False)
    newcomer = make_volunteer("newcomer", community, [shopping], LADEUZEPLEIN)
    assert offer_of(newcomer).waiting_since is None
    assert list(
        AuditEntry.objects.filter(subject=f"community:{community.pk}")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["volunteer_waiting_list_on", "volunteer_waiting_list_off"]


def test_only_the_communitys_coordinators_run_its_waiting_list(community, outsider_coordinator, citizen):
    with pytest.raises(PermissionDenied):
        close_sign_ups(community, outsider_coordinator)
    with pytest.raises(PermissionDenied):
        services.volunteers_let_in(community=community, coordinator=citizen, volunteer_ids=[])


def test_the_inbox_tells_a_waiting_volunteer_where_they_stand_instead_of_idle_advice(
    client, community, coordinator, shopping, citizen
):
    post_request(citizen, community, shopping)
    close_sign_ups(community, coordinator)
    make_volunteer("first", community, [shopping], KESSEL_LO)
    newcomer = make_volunteer("newcomer", community, [shopping], LADEUZEPLEIN)
    sign_in(client, newcomer)

    page = client.get(reverse("inbox")).content.decode()

    assert "you are on the waiting list (number 2)" in page
    assert "data-idle-advice" not in page
    assert why_no_proposal(newcomer).lines == []


def test_coordinators_see_why_a_waiting_volunteer_was_not_chosen(community, coordinator, shopping, citizen):
    close_sign_ups(community, coordinator)
    newcomer = make_volunteer("newcomer", community, [shopping], LADEUZEPLEIN)
    help_request = post_request(citizen, community, shopping)

    rows = {row.volunteer.pk: row for row in volunteers_for_request(help_request)}
    assert rows[newcomer.pk].reason == WAITING_LIST
    assert rows[newcomer.pk].why == "On the waiting list: let them in first"


def test_the_coordinators_page_closes_sign_ups_and_lets_the_chosen_in(
    client, community, coordinator, shopping
):
    sign_in(client, coordinator)
    response = client.post(reverse("coordinator-waiting-list-switch"), {"on": "1"}, follow=True)
    assert "New volunteers now join the waiting list." in response.content.decode()
    first = make_volunteer("first", community, [shopping], LADEUZEPLEIN)
    second = make_volunteer("second", community, [shopping], KESSEL_LO)

    page = client.get(reverse("coordinator-waiting-list")).content.decode()
    assert f'data-waiting="{first.pk}"' in page and f'data-waiting="{second.pk}"' in page

    response = client.post(
        reverse("coordinator-waiting-list-let-in"), {"volunteer": [second.pk]}, follow=True
    )
    assert "1 volunteer let in" in response.content.decode()
    assert offer_of(second).waiting_since is None
    assert offer_of(first).waiting_since is not None


def test_letting_in_a_number_that_is_no_number_is_refused_at_the_field(
    client, community, coordinator, shopping
):
    close_sign_ups(community, coordinator)
    first = make_volunteer("first", community, [shopping], LADEUZEPLEIN)
    sign_in(client, coordinator)
    response = client.post(reverse("coordinator-waiting-list-let-in"), {"how_many": "0"})
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 1" in response.content.decode()
    assert offer_of(first).waiting_since is not None
