"""What the volunteer's, citizen's and coordinator's pages say matches the task's real state.

Rough edges a walkthrough found: a proposal card without the time the help is needed, "the
exact address is shown once you accept" on a finished task, the volunteer's wording shown
to coordinators, a day to answer an urgent request, a one-click cancel, a help line without
a number.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from mutualaid.aid import services
from mutualaid.aid.models import HelpRequest, PartOfDay, TimeWindow, Urgency
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, PASSWORD, make_user, make_volunteer, post_request, sign_in


def test_the_inbox_card_says_when_the_help_is_needed_before_accepting(client, proposal, volunteer):
    window = proposal.help_request.time_windows.get()
    sign_in(client, volunteer)

    page = client.get(reverse("inbox")).content.decode()

    assert "When" in page
    assert str(window) in page


def test_a_finished_task_no_longer_promises_the_address_on_acceptance(client, proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)
    sign_in(client, volunteer)

    page = client.get(reverse("task-detail", args=[proposal.pk])).content.decode()

    assert "shown once you accept" not in page
    assert "Around" in page


def test_a_proposal_still_says_the_address_comes_with_accepting(client, proposal, volunteer):
    sign_in(client, volunteer)

    page = client.get(reverse("task-detail", args=[proposal.pk])).content.decode()

    assert "shown once you accept" in page
    assert "Waiting for your answer" in page


def test_the_coordinator_sees_a_proposal_in_neutral_words(client, proposal, coordinator):
    sign_in(client, coordinator)

    page = client.get(reverse("coordinator-request", args=[proposal.help_request_id])).content.decode()

    assert str(AssignmentStatus.PROPOSED.label) in page
    assert "Waiting for your answer" not in page


@pytest.mark.parametrize(
    ("urgency", "hours"), [(Urgency.TODAY, 2), (Urgency.SOON, 24), (Urgency.THIS_WEEK, 24)]
)
def test_an_urgent_request_gives_the_volunteer_less_time_to_answer(
    citizen, community, shopping, volunteer, urgency, hours
):
    help_request = post_request(citizen, community, shopping, urgency=urgency)
    before = timezone.now()

    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=1.0)

    answer_time = dt.timedelta(hours=hours)
    assert before + answer_time <= assignment.expires_at <= timezone.now() + answer_time


def test_the_urgent_answer_time_never_exceeds_the_normal_one(
    settings, citizen, community, shopping, volunteer
):
    settings.PROPOSAL_EXPIRY_HOURS = 1
    help_request = post_request(citizen, community, shopping, urgency=Urgency.TODAY)

    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=1.0)

    assert assignment.expires_at - timezone.now() <= dt.timedelta(hours=1)


def test_cancelling_asks_first_and_changes_nothing_until_confirmed(client, proposal, citizen):
    sign_in(client, citizen)
    detail = client.get(reverse("request-detail", args=[proposal.help_request_id])).content.decode()
    cancel_url = reverse("request-cancel", args=[proposal.help_request_id])
    assert f'<form method="get" action="{cancel_url}">' in detail  # to a question, not a one-click cancel

    question = client.get(cancel_url, {"reason": "sorted out"})

    assert question.status_code == 200
    assert "Cancel this request?" in question.content.decode()
    assert "A volunteer has been asked" in question.content.decode()
    assert 'value="sorted out"' in question.content.decode()  # what they typed is kept
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.PROPOSED

    client.post(cancel_url, {"reason": "sorted out"})

    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.CANCELLED


def test_asking_to_cancel_a_finished_request_leads_back_to_it(client, help_request, citizen):
    services.help_request_cancel(help_request=help_request, actor=citizen, reason="")
    sign_in(client, citizen)

    response = client.get(reverse("request-cancel", args=[help_request.pk]))

    assert response.status_code == 302
    assert response.url == reverse("request-detail", args=[help_request.pk])


def test_the_help_line_number_of_the_readers_community_is_on_every_page(client, community, citizen):
    community.contact_phone = "016 27 20 00"
    community.save()

    anonymous_page = client.get(reverse("home")).content.decode()
    sign_in(client, citizen)
    own_page = client.get(reverse("my-requests")).content.decode()

    for page in (anonymous_page, own_page):
        assert "016 27 20 00" in page
        assert 'href="tel:016272000"' in page


def test_with_several_communities_a_visitor_is_not_given_one_of_them_at_random(
    client, community, other_community
):
    community.contact_phone = "016 27 20 00"
    community.save()
    other_community.contact_phone = "016 22 33 44"
    other_community.save()
    herent_citizen = make_user("jan", other_community)

    anonymous_page = client.get(reverse("home")).content.decode()
    client.login(username="jan", password=PASSWORD)
    herent_page = client.get(reverse("home")).content.decode()

    assert "016 27 20 00" not in anonymous_page and "016 22 33 44" not in anonymous_page
    assert "016 22 33 44" in herent_page and "016 27 20 00" not in herent_page
    assert herent_citizen.community == other_community


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "3 Dec 2026, 20:21"), ("nl", "3 dec 2026, 20:21"), ("fr", "3 déc 2026, 20:21")],
)
def test_dates_read_day_first_on_a_24_hour_clock_in_every_language(language, expected):
    moment = dt.datetime(2026, 12, 3, 20, 21)

    with translation.override(language):
        assert date_format(moment, "SHORT_DATETIME_FORMAT") == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Thu 3 Dec, afternoon"), ("nl", "do 3 dec, namiddag"), ("fr", "jeu 3 déc, après-midi")],
)
def test_a_time_window_reads_as_each_language_writes_it(language, expected):
    window = TimeWindow(date=dt.date(2026, 12, 3), part_of_day=PartOfDay.AFTERNOON)

    with translation.override(language):
        assert str(window) == expected


@pytest.mark.parametrize("language", ["en", "nl", "fr"])
def test_sign_up_preselects_the_language_the_page_is_read_in(client, community, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    page = client.get(reverse("signup")).content.decode()

    assert f'<option value="{language}" selected>' in page


def test_the_language_menu_is_one_compact_control_that_works_without_javascript(client, community):
    page = client.get(reverse("home")).content.decode()

    assert '<details class="language-menu">' in page
    assert 'name="language" value="fr" lang="fr"' in page
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302
    assert client.get(reverse("home")).content.decode().startswith('<!DOCTYPE html>\n\n<html lang="fr">')


def test_a_map_click_is_said_in_words_from_the_street_table(client, citizen):
    sign_in(client, citizen)

    answer = client.get(reverse("place-description"), {"latitude": "50.8735", "longitude": "4.7003"})

    assert answer.json() == {"description": "near Naamsestraat, Leuven centrum"}


@pytest.mark.parametrize(
    "query",
    [{}, {"latitude": "50.8"}, {"latitude": "x", "longitude": "4.7"}, {"latitude": "nan", "longitude": "4"}],
)
def test_a_bad_map_point_gets_a_json_reason_not_an_error_page(client, citizen, query):
    sign_in(client, citizen)

    answer = client.get(reverse("place-description"), query)

    assert answer.status_code == 400
    assert answer.json()["error"]


def test_the_request_form_offers_the_streets_a_misspelled_address_resembles(client, citizen, shopping):
    sign_in(client, citizen)

    page = client.post(
        reverse("request-create"), {"category": shopping.pk, "address": "Naamsesstraat 12, 3000 Leuven"}
    ).content.decode()

    assert "Did you mean Naamsestraat?" in page


def test_the_messages_page_lists_volunteers_by_name_each_told_apart(client, coordinator, community, shopping):
    for username, location, phone in (("zoe", KESSEL_LO, "0470 11 22 56"), ("luc", LADEUZEPLEIN, "")):
        volunteer = make_volunteer(username, community, [shopping], location)
        volunteer.first_name, volunteer.last_name, volunteer.phone = "Luc", "Dubois", phone
        volunteer.save()
    sign_in(client, coordinator)

    page = client.get(reverse("coordinator-messages")).content.decode()

    first = page.index("Luc Dubois · Leuven centrum<")
    second = page.index("Luc Dubois · Kessel-Lo · phone …256<")
    assert first < second  # same name: then by username
    assert ">luc<" not in page and ">zoe<" not in page
