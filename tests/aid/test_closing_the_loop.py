"""Once a task is done: thanks or "the help did not come", and what the volunteer paid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from mutualaid.aid import selectors, services
from mutualaid.aid.models import AuditEntry, TaskExpense, TaskFeedback
from mutualaid.aid.money import format_money, parse_money
from notifications.models import OutgoingMessage


@pytest.fixture
def done_task(help_request, volunteer, shopping):
    """The citizen's shopping, done by the volunteer (shopping carries expenses)."""
    shopping.carries_expenses = True
    shopping.save()
    task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=task, volunteer=volunteer)
    services.assignment_complete(assignment=task, volunteer=volunteer)
    task.refresh_from_db()
    help_request.refresh_from_db()
    return task


def audited(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


# Money


@pytest.mark.parametrize(
    ("language", "written"), [("nl", "€\xa012,50"), ("fr", "12,50\xa0€"), ("en", "€12.50")]
)
def test_an_amount_is_written_as_each_language_writes_euros_in_belgium(language, written):
    with translation.override(language):
        assert format_money(Decimal("12.5")) == written


@pytest.mark.parametrize("typed", ["12,50", "12.50", "€ 12,50", "12,50 €", " 12.5 "])
def test_an_amount_is_read_with_a_decimal_comma_or_point_and_a_euro_sign(typed):
    assert parse_money(typed) == Decimal("12.50")


# Thanks and "the help did not come"


def test_thanks_reach_the_volunteer_with_the_message_and_nothing_of_the_citizens_address(
    done_task, help_request, citizen, volunteer
):
    volunteer.email = "volunteer@example.org"
    volunteer.save()
    services.task_thank(help_request=help_request, actor=citizen, message="You made my week!")
    mail = OutgoingMessage.objects.filter(recipient=volunteer, channel="email").latest("pk")
    assert "You made my week!" in mail.body
    assert help_request.address not in mail.body and str(citizen.phone) not in mail.body
    assert citizen.last_name not in mail.body
    assert selectors.task_for_volunteer(done_task).thanks.message == "You made my week!"
    assert [entry.after for entry in audited("thanks")] == [{"feedback": help_request.feedback.pk}]


def test_help_that_did_not_come_alerts_the_coordinators_and_waits_on_their_dashboard(
    done_task, help_request, citizen, coordinator, volunteer, community
):
    coordinator.email, coordinator.preferred_language = "coordinator@example.org", "en"
    coordinator.save()
    told_volunteer = OutgoingMessage.objects.filter(recipient=volunteer).count()
    services.task_report_not_helped(help_request=help_request, actor=citizen, message="Nobody came.")
    mail = OutgoingMessage.objects.get(recipient=coordinator, channel="email")
    assert "did not come" in mail.subject and f"/coordinator/requests/{help_request.pk}/" in mail.body
    assert OutgoingMessage.objects.filter(recipient=volunteer).count() == told_volunteer
    # The volunteer is not shown a complaint: the coordinators hear both sides first.
    assert selectors.task_for_volunteer(done_task).thanks is None
    follow_ups = selectors.follow_ups_for_community(community)
    assert [(item.help_request.pk, item.why) for item in follow_ups.items] == [
        (help_request.pk, "not_helped")
    ]
    history = selectors.request_history_for_coordinators(help_request)
    assert "The person said the help did not come" in [getattr(line, "what", "") for line in history]


def test_the_follow_up_call_done_takes_it_off_the_dashboard(done_task, help_request, citizen, coordinator):
    services.task_report_not_helped(help_request=help_request, actor=citizen)
    services.call_take(help_request=help_request, coordinator=coordinator, kind="follow_up")
    services.call_done(help_request=help_request, coordinator=coordinator, outcome="He came on Monday.")
    assert selectors.follow_ups_for_community(help_request.community).count == 0
    assert TaskFeedback.objects.get().followed_up_by == coordinator
    assert len(audited("not_helped_followed_up")) == 1


def test_one_answer_per_request_thanks_then_a_complaint_is_refused(done_task, help_request, citizen):
    services.task_thank(help_request=help_request, actor=citizen)
    with pytest.raises(services.TaskActionError):
        services.task_report_not_helped(help_request=help_request, actor=citizen)
    with pytest.raises(services.TaskActionError):
        services.task_thank(help_request=help_request, actor=citizen, message="Again")
    assert TaskFeedback.objects.get().kind == "thanks"


def test_a_complaint_may_become_thanks_until_a_coordinator_followed_it_up(
    done_task, help_request, citizen, coordinator
):
    services.task_report_not_helped(help_request=help_request, actor=citizen)
    services.task_thank(help_request=help_request, actor=citizen, message="She came after all.")
    assert TaskFeedback.objects.get().kind == "thanks"

    other = TaskFeedback.objects.get()
    other.kind, other.followed_up_at, other.followed_up_by = "not_helped", timezone.now(), coordinator
    other.save()
    with pytest.raises(services.TaskActionError):
        services.task_thank(help_request=help_request, actor=citizen)


def test_only_a_done_request_can_be_answered(help_request, citizen):
    with pytest.raises(services.TaskActionError):
        services.task_thank(help_request=help_request, actor=citizen)
    assert not TaskFeedback.objects.exists()


def test_only_the_citizen_or_a_coordinator_of_the_community_answers(
    done_task, help_request, other_citizen, volunteer, outsider_coordinator, coordinator
):
    for person in (other_citizen, volunteer, outsider_coordinator):
        with pytest.raises(PermissionDenied):
            services.task_thank(help_request=help_request, actor=person)
    services.task_report_not_helped(help_request=help_request, actor=coordinator, message="She phoned.")
    assert TaskFeedback.objects.get().given_by == coordinator


def test_a_message_too_long_is_refused_at_the_field(done_task, help_request, citizen):
    with pytest.raises(ValidationError) as refused:
        services.task_thank(help_request=help_request, actor=citizen, message="x" * 501)
    assert "message" in refused.value.message_dict


# Expenses


def test_the_volunteer_records_what_they_paid_and_the_citizen_confirms_paying_it_back(
    done_task, help_request, citizen, volunteer
):
    expense = services.expense_record(
        assignment=done_task, volunteer=volunteer, amount=Decimal("12.50"), receipt_note="In the bag"
    )
    assert expense.status == "recorded"
    services.expense_confirm_repaid(expense=expense, actor=citizen)
    expense.refresh_from_db()
    assert expense.status == "repaid" and expense.answered_at is not None
    assert [entry.action for entry in AuditEntry.objects.order_by("pk") if "expense" in entry.action] == [
        "expense_recorded",
        "expense_repaid",
    ]


def test_an_amount_over_the_communitys_cap_is_refused_at_the_field(done_task, volunteer, community):
    community.expense_cap = Decimal("30.00")
    community.save()
    with translation.override("nl"), pytest.raises(ValidationError) as refused:
        services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("30.01"))
    assert "€\xa030,00" in refused.value.message_dict["amount"][0]
    assert not TaskExpense.objects.exists()
    services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("30.00"))


@pytest.mark.parametrize("amount", ["0", "-3", "1.234", "NaN"])
def test_a_nonsense_amount_is_refused_at_the_field(done_task, volunteer, amount):
    with pytest.raises(ValidationError) as refused:
        services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal(amount))
    assert "amount" in refused.value.message_dict


def test_only_the_tasks_volunteer_records_an_expense_and_only_for_a_kind_that_has_them(
    done_task, second_volunteer, volunteer, shopping
):
    with pytest.raises(PermissionDenied):
        services.expense_record(assignment=done_task, volunteer=second_volunteer, amount=Decimal("5"))
    shopping.carries_expenses = False
    shopping.save()
    with pytest.raises(services.TaskActionError):
        services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("5"))


def test_an_expense_is_recorded_once_done_not_while_accepted(help_request, volunteer, shopping):
    shopping.carries_expenses = True
    shopping.save()
    task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=task, volunteer=volunteer)
    with pytest.raises(services.TaskActionError):
        services.expense_record(assignment=task, volunteer=volunteer, amount=Decimal("5"))


def test_the_volunteer_corrects_the_amount_until_the_citizen_answered(done_task, volunteer, citizen):
    services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("5"))
    expense = services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("6.20"))
    assert TaskExpense.objects.get().amount == Decimal("6.20")
    assert audited("expense_recorded")[0].before == {"status": "recorded", "amount": "5.00"}
    services.expense_dispute(expense=expense, actor=citizen, reason="It was 5 euro.")
    with pytest.raises(services.TaskActionError):
        services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("5"))


def test_a_dispute_needs_a_reason_alerts_the_coordinators_and_a_coordinator_settles_it(
    done_task, volunteer, citizen, coordinator, community
):
    coordinator.email, coordinator.preferred_language = "coordinator@example.org", "en"
    coordinator.save()
    expense = services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("9"))
    with pytest.raises(ValidationError):
        services.expense_dispute(expense=expense, actor=citizen, reason="  ")
    services.expense_dispute(expense=expense, actor=citizen, reason="I gave him 10 euro in cash.")
    assert OutgoingMessage.objects.filter(recipient=coordinator, subject__contains="disputed").exists()
    assert [item.why for item in selectors.follow_ups_for_community(community).items] == ["disputed"]
    with pytest.raises(services.TaskActionError):
        services.expense_confirm_repaid(expense=expense, actor=citizen)
    services.expense_settle(expense=expense, coordinator=coordinator, note="Paid in cash; all fine.")
    expense.refresh_from_db()
    assert (expense.status, expense.settled_by) == ("settled", coordinator)
    assert selectors.follow_ups_for_community(community).count == 0


def test_only_a_coordinator_of_the_community_settles(done_task, volunteer, citizen, outsider_coordinator):
    expense = services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("9"))
    for person in (citizen, volunteer, outsider_coordinator):
        with pytest.raises(PermissionDenied):
            services.expense_settle(expense=expense, coordinator=person, note="No")


def test_only_the_citizen_or_a_coordinator_confirms_or_disputes(
    done_task, volunteer, other_citizen, outsider_coordinator
):
    expense = services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("9"))
    for person in (other_citizen, volunteer, outsider_coordinator):
        with pytest.raises(PermissionDenied):
            services.expense_confirm_repaid(expense=expense, actor=person)
        with pytest.raises(PermissionDenied):
            services.expense_dispute(expense=expense, actor=person, reason="No")


def test_an_expense_left_unconfirmed_for_the_set_days_shows_on_the_dashboard(
    done_task, volunteer, community, settings
):
    settings.EXPENSE_UNCONFIRMED_DAYS = 7
    services.expense_record(assignment=done_task, volunteer=volunteer, amount=Decimal("9"))
    assert selectors.follow_ups_for_community(community).count == 0
    later = timezone.now() + dt.timedelta(days=7, minutes=1)
    assert [item.why for item in selectors.follow_ups_for_community(community, now=later).items] == [
        "unconfirmed"
    ]


def test_the_purge_and_account_deletion_forget_what_people_wrote_after_the_task(
    done_task, help_request, citizen, volunteer
):
    from mutualaid.aid.personal_data import account_delete, personal_data_purge

    services.task_thank(help_request=help_request, actor=citizen, message="Dear Jan, thanks!")
    expense = services.expense_record(
        assignment=done_task, volunteer=volunteer, amount=Decimal("4"), receipt_note="Receipt for Mrs Peeters"
    )
    services.expense_dispute(expense=expense, actor=citizen, reason="Jan charged too much")
    personal_data_purge(older_than_days=10_000)  # nothing is that old: nothing forgotten
    assert TaskFeedback.objects.get().message == "Dear Jan, thanks!"
    account_delete(person=citizen)
    expense.refresh_from_db()
    assert TaskFeedback.objects.get().message == ""
    assert (expense.receipt_note, expense.dispute_reason) == ("", "")
    assert expense.amount == Decimal("4.00")  # the figures stay


def test_each_persons_data_export_holds_their_answer_and_the_expense(
    done_task, help_request, citizen, volunteer
):
    from mutualaid.aid.personal_data import personal_data_export

    services.expense_record(
        assignment=done_task, volunteer=volunteer, amount=Decimal("4"), receipt_note="Bag"
    )
    services.task_thank(help_request=help_request, actor=citizen, message="Thanks!")
    (own,) = personal_data_export(citizen)["help_requests"]
    assert own["answer_after_the_task"]["message"] == "Thanks!"
    assert own["expense"] == {
        "amount_eur": "4.00",
        "status": "recorded",
        "recorded_at": own["expense"]["recorded_at"],
    }
    (task,) = personal_data_export(volunteer)["tasks_as_volunteer"]
    assert task["expense"]["receipt_note"] == "Bag"
