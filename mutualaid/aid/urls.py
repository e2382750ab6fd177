from django.urls import path

from mutualaid.aid import (
    closing_views,
    coordinator_views,
    identity_views,
    safeguarding_views,
    series_views,
    teamwork_views,
    views,
    waiting_list_views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("requests/", views.my_requests, name="my-requests"),
    path("requests/new/", views.request_create, name="request-create"),
    path("requests/<int:request_id>/", views.request_detail, name="request-detail"),
    path("requests/<int:request_id>/cancel/", views.request_cancel, name="request-cancel"),
    path("requests/<int:request_id>/edit/", views.request_edit, name="request-edit"),
    path("requests/<int:request_id>/note/", views.request_note, name="request-note"),
    path(
        "requests/<int:request_id>/concern/",
        safeguarding_views.concern_about_volunteer,
        name="concern-about-volunteer",
    ),
    # Closing the loop once done: thanks or "the help did not come", and the expense.
    path("requests/<int:request_id>/thanks/", closing_views.request_thank, name="request-thank"),
    path(
        "requests/<int:request_id>/not-helped/", closing_views.request_not_helped, name="request-not-helped"
    ),
    path("requests/<int:request_id>/expense/repaid/", closing_views.expense_repaid, name="expense-repaid"),
    path("requests/<int:request_id>/expense/dispute/", closing_views.expense_dispute, name="expense-dispute"),
    path("places/describe/", views.place_description, name="place-description"),
    path("volunteer/offer/", views.offer_edit, name="offer-edit"),
    path("volunteer/offer/pause/", views.offer_pause, name="offer-pause"),
    path("volunteer/offer/available-now/", views.offer_available_now, name="offer-available-now"),
    path("volunteer/inbox/", views.inbox, name="inbox"),
    path("volunteer/tasks/<int:assignment_id>/", views.task_detail, name="task-detail"),
    path("volunteer/tasks/<int:assignment_id>/accept/", views.task_accept, name="task-accept"),
    path("volunteer/tasks/<int:assignment_id>/decline/", views.task_decline, name="task-decline"),
    path("volunteer/tasks/<int:assignment_id>/done/", views.task_done, name="task-done"),
    path("volunteer/tasks/<int:assignment_id>/expense/", closing_views.task_expense, name="task-expense"),
    path("volunteer/tasks/<int:assignment_id>/give-back/", views.task_give_back, name="task-give-back"),
    # Recurring help: the series of a request, and a volunteer's weekly commitment.
    path("requests/<int:request_id>/series/cancel/", series_views.series_cancel, name="series-cancel"),
    path("requests/<int:request_id>/series/pause/", series_views.series_pause, name="series-pause"),
    path(
        "volunteer/tasks/<int:assignment_id>/every-week/",
        series_views.task_accept_every_week,
        name="task-accept-every-week",
    ),
    path(
        "volunteer/tasks/<int:assignment_id>/give-back-all/",
        series_views.task_give_back_all,
        name="task-give-back-all",
    ),
    path(
        "volunteer/tasks/<int:assignment_id>/concern/",
        safeguarding_views.concern_about_requester,
        name="concern-about-requester",
    ),
    path("coordinator/", coordinator_views.dashboard, name="dashboard"),
    path("coordinator/match/", coordinator_views.dashboard_match_now, name="dashboard-match"),
    path("coordinator/intake/", coordinator_views.phone_intake, name="coordinator-intake"),
    path("coordinator/callbacks/", coordinator_views.callbacks, name="coordinator-callbacks"),
    path(
        "coordinator/callbacks/<int:request_id>/done/",
        coordinator_views.callback_done,
        name="coordinator-callback-done",
    ),
    path(
        "coordinator/requests/<int:request_id>/",
        coordinator_views.request_overview,
        name="coordinator-request",
    ),
    path(
        "coordinator/requests/<int:request_id>/assign/",
        coordinator_views.request_assign,
        name="coordinator-assign",
    ),
    path(
        "coordinator/requests/<int:request_id>/unassign/",
        coordinator_views.request_unassign,
        name="coordinator-unassign",
    ),
    path(
        "coordinator/requests/<int:request_id>/reassign/",
        coordinator_views.request_reassign,
        name="coordinator-reassign",
    ),
    path(
        "coordinator/requests/<int:request_id>/hold/",
        coordinator_views.request_hold,
        name="coordinator-hold",
    ),
    path(
        "coordinator/requests/<int:request_id>/release-hold/",
        coordinator_views.request_release_hold,
        name="coordinator-release-hold",
    ),
    path(
        "coordinator/requests/<int:request_id>/attach/",
        coordinator_views.request_attach,
        name="coordinator-attach",
    ),
    path("coordinator/volunteers/", coordinator_views.volunteer_directory, name="coordinator-volunteers"),
    path(
        "coordinator/volunteers/waiting-list/",
        waiting_list_views.waiting_list,
        name="coordinator-waiting-list",
    ),
    path(
        "coordinator/volunteers/waiting-list/switch/",
        waiting_list_views.waiting_list_switch,
        name="coordinator-waiting-list-switch",
    ),
    path(
        "coordinator/volunteers/waiting-list/let-in/",
        waiting_list_views.waiting_list_let_in,
        name="coordinator-waiting-list-let-in",
    ),
    path(
        "coordinator/volunteers/<int:volunteer_id>/checks/",
        coordinator_views.volunteer_checks,
        name="coordinator-volunteer-checks",
    ),
    path("coordinator/messages/", coordinator_views.message_volunteers, name="coordinator-messages"),
    path("coordinator/identity/", identity_views.community_identity_edit, name="coordinator-identity"),
    path("communities/<slug:slug>/colours.css", identity_views.community_colours, name="community-colours"),
    path("communities/<slug:slug>/logo", identity_views.community_logo, name="community-logo"),
    # The team's work on a request: notes, and who has taken its call.
    path(
        "coordinator/requests/<int:request_id>/notes/",
        teamwork_views.team_note_add,
        name="coordinator-team-note",
    ),
    path(
        "coordinator/requests/<int:request_id>/call/take/",
        teamwork_views.call_take,
        name="coordinator-call-take",
    ),
    path(
        "coordinator/requests/<int:request_id>/call/release/",
        teamwork_views.call_release,
        name="coordinator-call-release",
    ),
    path(
        "coordinator/requests/<int:request_id>/call/done/",
        teamwork_views.call_done,
        name="coordinator-call-done",
    ),
    path(
        "coordinator/requests/<int:request_id>/expense/settle/",
        closing_views.expense_settle,
        name="coordinator-expense-settle",
    ),
    # Safeguarding.
    path("coordinator/concerns/", safeguarding_views.concerns, name="coordinator-concerns"),
    path(
        "coordinator/concerns/<int:report_id>/dealt-with/",
        safeguarding_views.concern_dealt_with,
        name="coordinator-concern-dealt-with",
    ),
    path(
        "coordinator/volunteers/<int:volunteer_id>/suspend/",
        safeguarding_views.volunteer_suspend,
        name="coordinator-volunteer-suspend",
    ),
    path(
        "coordinator/volunteers/<int:volunteer_id>/lift-suspension/",
        safeguarding_views.volunteer_suspension_lift,
        name="coordinator-volunteer-lift-suspension",
    ),
]
