"""Every change of a request, an offer or an assignment happens here.

Each service locks the help request row, checks the transition against `states.py`,
records a `StatusChange`, and publishes the change after the commit. Views and consumers
only parse input, call one of these and render the outcome. One module per noun:
`requests`, `offers`, `assignments`, `coordination`, `identity`, `audit`, `closing`
(thanks and "the help did not come"), `expenses`.
"""

from mutualaid.aid.services._records import TaskActionError
from mutualaid.aid.services.assignments import (
    assignment_accept,
    assignment_complete,
    assignment_decline,
    assignment_expire,
    assignment_give_back,
    assignment_propose,
    assignment_withdraw,
    assignments_propose_batch,
    expire_overdue_proposals,
)
from mutualaid.aid.services.audit import audit
from mutualaid.aid.services.closing import task_report_not_helped, task_thank
from mutualaid.aid.services.coordination import (
    assignment_assign_by_coordinator,
    assignment_reassign_by_coordinator,
    assignment_unassign,
    coordinator_message_send,
    help_request_attach_to_account,
    help_request_hold,
    help_request_mark_called_back,
    help_request_release_hold,
    hold_minutes,
    matching_run_now,
)
from mutualaid.aid.services.expenses import (
    expense_confirm_repaid,
    expense_dispute,
    expense_record,
    expense_settle,
)
from mutualaid.aid.services.identity import community_identity_update
from mutualaid.aid.services.offers import (
    volunteer_offer_save,
    volunteer_offer_set_available_now,
    volunteer_offer_set_paused,
)
from mutualaid.aid.services.reminders import remind_task, send_task_reminders
from mutualaid.aid.services.requests import (
    EDITABLE_REQUEST_STATUSES,
    expire_requests_whose_time_passed,
    help_request_add_note,
    help_request_cancel,
    help_request_create,
    help_request_edit,
    help_request_expire_if_time_passed,
    help_requests_set_waiting_reasons,
)
from mutualaid.aid.services.safeguarding import (
    concern_report_file,
    concern_report_mark_dealt_with,
    person_of_concern,
    volunteer_suspend,
    volunteer_suspension_lift,
)
from mutualaid.aid.services.staffing import help_request_tell_short_staffed, tell_short_staffed_requests
from mutualaid.aid.services.teamwork import (
    call_claim_minutes,
    call_done,
    call_release,
    call_take,
    team_note_add,
)
from mutualaid.aid.services.vetting import volunteer_check_record
from mutualaid.aid.services.waiting_list import (
    community_set_volunteer_waiting_list,
    volunteers_let_in,
    volunteers_let_in_first,
    waiting_list_position,
    waiting_volunteers,
)

__all__ = [
    "EDITABLE_REQUEST_STATUSES",
    "TaskActionError",
    "assignment_accept",
    "assignment_assign_by_coordinator",
    "assignment_complete",
    "assignment_decline",
    "assignment_expire",
    "assignment_give_back",
    "assignment_propose",
    "assignment_reassign_by_coordinator",
    "assignment_unassign",
    "assignment_withdraw",
    "assignments_propose_batch",
    "audit",
    "call_claim_minutes",
    "call_done",
    "call_release",
    "call_take",
    "community_identity_update",
    "community_set_volunteer_waiting_list",
    "concern_report_file",
    "concern_report_mark_dealt_with",
    "coordinator_message_send",
    "expense_confirm_repaid",
    "expense_dispute",
    "expense_record",
    "expense_settle",
    "expire_overdue_proposals",
    "expire_requests_whose_time_passed",
    "help_request_add_note",
    "help_request_attach_to_account",
    "help_request_cancel",
    "help_request_create",
    "help_request_edit",
    "help_request_expire_if_time_passed",
    "help_request_hold",
    "help_request_mark_called_back",
    "help_request_release_hold",
    "help_request_tell_short_staffed",
    "help_requests_set_waiting_reasons",
    "hold_minutes",
    "matching_run_now",
    "person_of_concern",
    "remind_task",
    "send_task_reminders",
    "task_report_not_helped",
    "task_thank",
    "team_note_add",
    "tell_short_staffed_requests",
    "volunteer_check_record",
    "volunteer_offer_save",
    "volunteer_offer_set_available_now",
    "volunteer_offer_set_paused",
    "volunteer_suspend",
    "volunteer_suspension_lift",
    "volunteers_let_in",
    "volunteers_let_in_first",
    "waiting_list_position",
    "waiting_volunteers",
]
