"""The pages of closing the loop: the citizen's answer and expense on their request page, the
volunteer's expense on their task page, the coordinators' follow-ups, and the dashboard map
following the list's filters. Plain forms: all of it works without JavaScript."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from mutualaid.aid import services
from mutualaid.aid.models import AuditEntry, TaskExpense, TaskFeedback, Urgency
from tests.conftest import KESSEL_LO, post_request, sign_in
from tests.web.test_dashboard_requests import dashboard, map_data


@pytest.fixture
def done_task(help_request, volunteer, shopping):
    shopping.carries_expenses = True
    shopping.save()
    task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=task, volunteer=volunteer)
    services.assignment_complete(assignment=task, volunteer=volunteer)
    return task


@pytest.fixture
def phoned_in_done(coordinator, community, shopping, volunteer):
    help_request = services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        contact_name="Mrs Maes",
        contact_phone="+3216234567",
        category=shopping,
        description="Bread and soup.",
        urgency=2,
        location=KESSEL_LO,
        time_windows=[],
        any_time=True,
    )
    task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=1)
    services.assignment_accept(assignment=task, volunteer=volunteer)
    services.assignment_complete(assignment=task, volunteer=volunteer)
    return help_request


def test_the_citizen_thanks_the_volunteer_from_their_request_page(client, citizen, help_request, done_task):
    sign_in(client, citizen)
    page = client.get(reverse("request-detail", args=[help_request.pk])).text
    assert 'action="' + reverse("request-thank", args=[help_request.pk]) in page
    assert 'formaction="' + reverse("request-not-helped", args=[help_request.pk]) in page
    response = client.post(
        reverse("request-thank", args=[help_request.pk]), {"message": "Thanks a lot!"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("request-detail", args=[help_request.pk])
    assert "Your thanks are passed on" in response.text and 'data-feedback="thanks"' in response.text


def test_the_volunteer_sees_the_thanks_on_the_task_and_in_the_inbox(
    client, citizen, volunteer, help_request, done_task
):
    services.task_thank(help_request=help_request, actor=citizen, message="You are a star")
    sign_in(client, volunteer)
    assert "You are a star" in client.get(reverse("task-detail", args=[done_task.pk])).text
    assert "You are a star" in client.get(reverse("inbox")).text


def test_a_second_answer_is_refused_with_a_message(client, citizen, help_request, done_task):
    services.task_thank(help_request=help_request, actor=citizen)
    sign_in(client, citizen)
    response = client.post(reverse("request-not-helped", args=[help_request.pk]), {}, follow=True)
    assert "already given" in response.text
    assert TaskFeedback.objects.get().kind == "thanks"


def test_a_coordinator_answers_for_someone_who_phoned_and_sees_it_to_follow_up(
    client, coordinator, phoned_in_done
):
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[phoned_in_done.pk])).text
    assert reverse("request-not-helped", args=[phoned_in_done.pk]) in page
    response = client.post(
        reverse("request-not-helped", args=[phoned_in_done.pk]), {"message": "Nobody rang."}
    )
    assert response.url == reverse("coordinator-request", args=[phoned_in_done.pk])
    board = dashboard(client).text
    assert f'data-follow-up="not_helped-{phoned_in_done.pk}"' in board
    history = client.get(reverse("coordinator-request", args=[phoned_in_done.pk])).text
    assert "The person said the help did not come" in history


def test_a_coordinator_does_not_answer_for_a_citizen_with_an_account(
    client, coordinator, help_request, done_task
):
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[help_request.pk])).text
    assert 'data-feedback="none"' in page
    assert reverse("request-thank", args=[help_request.pk]) not in page


def test_the_volunteer_records_an_expense_when_marking_done_and_the_citizen_sees_it(
    client, citizen, volunteer, help_request, shopping
):
    shopping.carries_expenses = True
    shopping.save()
    task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=task, volunteer=volunteer)
    sign_in(client, volunteer)
    page = client.get(reverse("task-detail", args=[task.pk])).text
    assert 'name="amount"' in page
    response = client.post(
        reverse("task-done", args=[task.pk]), {"hours_spent": "1", "amount": "12,50", "receipt_note": "Bag"}
    )
    assert response.status_code == 302
    assert TaskExpense.objects.get().amount == Decimal("12.50")
    citizen.preferred_language = "nl"
    citizen.save()
    sign_in(client, citizen)
    with translation.override("nl"):
        page = client.get(reverse("request-detail", args=[help_request.pk]), HTTP_ACCEPT_LANGUAGE="nl").text
    assert "€\xa012,50" in page or "€&nbsp;12,50" in page


def test_an_amount_over_the_cap_when_marking_done_is_refused_at_the_field_and_nothing_is_done(
    client, volunteer, help_request, shopping, community
):
    shopping.carries_expenses = True
    shopping.save()
    task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=task, volunteer=volunteer)
    sign_in(client, volunteer)
    response = client.post(reverse("task-done", args=[task.pk]), {"amount": "75"})
    assert response.status_code == 400
    assert "At most" in response.text and 'aria-invalid="true"' in response.text
    assert 'value="75"' in response.text  # what they typed stays in the field
    task.refresh_from_db()
    assert task.status == "accepted" and not TaskExpense.objects.exists()


def test_the_cap_is_set_on_the_communitys_identity_page_and_audited(client, coordinator, community):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-identity"), {"accent_colour": "#0b5394", "expense_cap": "80.00"}
    )
    assert response.status_code == 302
    community.refresh_from_db()
    assert community.expense_cap == Decimal("80.00")
    entry = AuditEntry.objects.get(action="community.identity_changed")
    assert entry.after["expense_cap"] == "80.00" and entry.before["expense_cap"] == "50.00"


def test_a_kind_of_help_without_expenses_asks_no_amount(client, volunteer, help_request):
    task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=task, volunteer=volunteer)
    sign_in(client, volunteer)
    assert 'name="amount"' not in client.get(reverse("task-detail", args=[task.pk])).text


def test_the_volunteer_records_after_marking_done_and_a_bad_amount_stays_in_its_field(
    client, volunteer, done_task
):
    sign_in(client, volunteer)
    response = client.post(reverse("task-expense", args=[done_task.pk]), {"amount": "twelve"})
    assert response.status_code == 400 and "Give the amount in euros" in response.text
    response = client.post(reverse("task-expense", args=[done_task.pk]), {"amount": "7.10"})
    assert response.status_code == 302 and TaskExpense.objects.get().amount == Decimal("7.10")


def test_the_citizen_disputes_and_a_coordinator_settles_from_the_dashboard(
    client, citizen, coordinator, volunteer, help_request, done_task
):
    services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("20"))
    sign_in(client, citizen)
    client.post(reverse("expense-dispute", args=[help_request.pk]), {"reason": "It was 15."})
    sign_in(client, coordinator)
    assert f'data-follow-up="disputed-{help_request.pk}"' in dashboard(client).text
    response = client.post(
        reverse("coordinator-expense-settle", args=[help_request.pk]), {"note": "Agreed on 15."}
    )
    assert response.url == reverse("coordinator-request", args=[help_request.pk])
    assert TaskExpense.objects.get().status == "settled"
    assert "data-follow-ups" not in dashboard(client).text


def test_the_citizen_confirms_paying_back(client, citizen, volunteer, help_request, done_task):
    services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("20"))
    sign_in(client, citizen)
    response = client.post(reverse("expense-repaid", args=[help_request.pk]), follow=True)
    assert "you paid the volunteer back" in response.text
    assert TaskExpense.objects.get().status == "repaid"


def test_a_settle_note_left_empty_is_refused_with_a_message(
    client, coordinator, volunteer, help_request, done_task
):
    services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("20"))
    sign_in(client, coordinator)
    response = client.post(reverse("coordinator-expense-settle", args=[help_request.pk]), {}, follow=True)
    assert response.status_code == 200 and TaskExpense.objects.get().status == "recorded"


# The dashboard map shows what the list finds.


def test_the_map_shows_the_same_filtered_requests_as_the_list(
    client, coordinator, citizen, community, shopping
):
    calm = post_request(citizen, community, shopping)
    urgent = post_request(citizen, community, shopping, urgency=Urgency.TODAY, location=KESSEL_LO)
    sign_in(client, coordinator)

    def marked(**filters):
        return sorted(point[2] for point in map_data(dashboard(client, **filters))["requests"])

    assert marked() == sorted([calm.pk, urgent.pk])
    assert marked(urgency=Urgency.TODAY) == [urgent.pk]
    assert marked(neighbourhood=KESSEL_LO.neighbourhood) == [urgent.pk]
    assert marked(q=f"#{calm.pk}") == [calm.pk]
    assert marked(category=shopping.pk + 1000) == sorted([calm.pk, urgent.pk])  # unreadable: left out
    services.help_request_cancel(help_request=calm, actor=citizen)
    assert marked(status="cancelled") == [calm.pk]
    assert marked(status="all") == sorted([calm.pk, urgent.pk])
    assert marked(waiting="24h") == []


def test_the_map_shows_every_page_of_the_list_not_only_the_first(
    client, coordinator, citizen, community, shopping
):
    from mutualaid.aid.request_list import PER_PAGE

    numbers = [post_request(citizen, community, shopping).pk for _ in range(PER_PAGE + 2)]
    sign_in(client, coordinator)
    assert sorted(point[2] for point in map_data(dashboard(client, page=2))["requests"]) == numbers


def test_the_data_migration_flags_shopping_and_pharmacy_only(community, shopping, pharmacy):
    from importlib import import_module

    from django.apps import apps

    from mutualaid.aid.models import Category

    driving = Category.objects.create(community=community, slug="driving", name="Driving")
    migration = import_module("mutualaid.aid.migrations.0021_shopping_and_pharmacy_carry_expenses")
    migration.flag_expense_categories(apps, None)
    flagged = dict(Category.objects.values_list("slug", "carries_expenses"))
    assert flagged == {"shopping": True, "pharmacy": True, driving.slug: False}
