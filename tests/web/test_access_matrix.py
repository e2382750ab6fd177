"""The access matrix: every URL and socket group, for every persona, as data, every cell probed.

Personas, relative to the citizen's requests (see `World`):

- anonymous: not signed in;
- owner: the citizen who asked for help (requests A, B and O are theirs);
- stranger: another citizen of the same community;
- volunteer_proposed: the volunteer to whom A is proposed (assignment P);
- volunteer_accepted: the volunteer who accepted B (assignment Q);
- volunteer_other: a volunteer of the community with no task;
- coordinator: a coordinator of the community (Leuven);
- coordinator_other: the coordinator of another community (Herent, request H);
- superuser;
- referrer: a referrer of a partner organisation of Leuven (organisation G, their referral R);
  another organisation's referrer filed R2, which they must never see.

A cell is a URL (with its target object), a method and a persona. Its expected code:

- `L`: 302 to the login page; `A`: 302 to the admin's login page;
- `302`, `200`, `400`, `403`, `404`, `405`: that status;
- `!` after the code: the database must change (the action happened); every other cell
  must leave it exactly as it was (nothing saved by a refused or failed action);
- `+` after the code: the page may show the personal data of the citizen's requests
  (names, phone, e-mail, address). Every other response must not contain any of it.

Every cell runs in a savepoint that is rolled back, so each starts from the same world.
A URL pattern without a row here fails `test_every_url_of_the_project_has_rows_in_the_matrix`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from matching.models import MatchingQueue
from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.demo import _grant_coordinator_admin
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    Category,
    Community,
    ConcernReport,
    CoordinatorMessage,
    HelpRequest,
    HelpSeries,
    PartOfDay,
    StatusChange,
    TaskExpense,
    TaskFeedback,
    TeamNote,
    TimeWindow,
    VolunteerCheck,
    VolunteerOffer,
)
from mutualaid.aid.places import Location
from mutualaid.aid.services.series import help_series_create
from mutualaid.partners import referrals
from mutualaid.partners import services as partner_services
from mutualaid.partners.models import ApiKey, PartnerOrganisation, Referral, Referrer, ReferrerInvitation
from notifications.models import OutgoingMessage
from tests.conftest import (
    KESSEL_LO,
    LADEUZEPLEIN,
    PASSWORD,
    enrol,
    make_user,
    make_volunteer,
    post_request,
    sign_in,
)

PERSONAS = (
    "anonymous",
    "owner",
    "stranger",
    "volunteer_proposed",
    "volunteer_accepted",
    "volunteer_other",
    "coordinator",
    "coordinator_other",
    "superuser",
    "referrer",
)
HERENT = Location(50.9070, 4.6720, "Kerkstraat 1, 3020 Herent", "Herent")
PARIJSSTRAAT = Location(50.8800, 4.6990, "Parijsstraat 21, 3000 Leuven", "Leuven centrum")
TIENSESTRAAT = Location(50.8776, 4.7070, "Tiensestraat 40, 3000 Leuven", "Leuven centrum")
# The personal data of the citizen (requests A, B, O) and of the caller who phoned in (C).
# (Not "Naamsestraat": the address fields' help text gives it as an example.)
OWNER_SECRETS = ("Peeters", "+32 470 11 22 33", "Parijsstraat", "peeters@example.org")
CALLER_SECRETS = ("Callsen", "Tiensestraat")
# The neighbours of the referrals: R (the referrer's organisation's) and R2 (another's).
REFERRAL_SECRETS = ("Refsen",)
OTHER_REFERRAL_SECRETS = ("Elsewhereson",)
NEW_PASSWORD = "another-long-test-password-42"

# fmt: off
# Columns: anonymous, owner, stranger, volunteer_proposed, volunteer_accepted, volunteer_other,
#          coordinator, coordinator_other, superuser, referrer.
ALL_200 = "200 200 200 200 200 200 200 200 200 200"
LOGIN_THEN_200 = "L 200 200 200 200 200 200 200 200 200"
LOGIN_THEN_405 = "L 405 405 405 405 405 405 405 405 405"
LOGIN_THEN_404 = "L 404 404 404 404 404 404 404 404 404"
ALL_405 = "405 405 405 405 405 405 405 405 405 405"
ALL_403 = "403 403 403 403 403 403 403 403 403 403"
ALL_401 = "401 401 401 401 401 401 401 401 401 401"
ALL_404 = "404 404 404 404 404 404 404 404 404 404"
# (url name, target, GET, POST, POST data key)
MATRIX: list[tuple[str, str, str, str, str]] = [
    ("home", "", ALL_200, ALL_200, "empty"),
    # Probes and metrics: no session needed, nothing personal; the test client's peer is
    # 127.0.0.1 (METRICS_ALLOWED_NETWORKS' default). No worker beats here: not ready.
    ("healthz", "", ALL_200, ALL_405, "empty"),
    ("readyz", "", "503 503 503 503 503 503 503 503 503 503", ALL_405, "empty"),
    ("metrics", "", ALL_200, ALL_405, "empty"),
    ("signup", "", ALL_200, "302! 302! 302! 302! 302! 302! 302! 302! 302! 302!", "signup"),
    ("login", "", ALL_200, "302 302 302 302 302 302 302 302 302 302", "login"),
    ("logout", "", ALL_405, "302 302 302 302 302 302 302 302 302 302", "empty"),
    ("account", "", LOGIN_THEN_200, "L 302! 302! 302! 302! 302! 302! 302! 302! 302!", "own-password"),
    ("account-data", "", LOGIN_THEN_200, LOGIN_THEN_200, "empty"),
    # Browser notifications: one's own subscription only. Push is not set up in this world
    # (no VAPID keys): subscribing says so (409); a form post is no subscription (400).
    ("push-subscribe", "", LOGIN_THEN_405, "L 409 409 409 409 409 409 409 409 409", "empty"),
    ("push-unsubscribe", "", LOGIN_THEN_405, "L 400 400 400 400 400 400 400 400 400", "empty"),
    ("service-worker", "", ALL_200, ALL_405, "empty"),
    ("web-manifest", "", ALL_200, ALL_405, "empty"),
    ("password_change", "", LOGIN_THEN_200,
     "L 302! 302! 302! 302! 302! 302! 302! 302! 302!", "password-change"),
    ("password_change_done", "", LOGIN_THEN_200, LOGIN_THEN_405, "empty"),
    ("password_reset", "", ALL_200, "302 302 302 302 302 302 302 302 302 302", "password-reset"),
    ("password_reset_done", "", ALL_200, ALL_405, "empty"),
    ("password_reset_confirm", "bad-token", ALL_200, ALL_200, "new-password"),
    ("password_reset_complete", "", ALL_200, ALL_405, "empty"),
    # Public, anonymised figures: anyone reads them, nobody posts.
    ("transparency", "leuven", ALL_200, ALL_405, "empty"),
    ("transparency", "unknown-slug", "404 404 404 404 404 404 404 404 404 404", ALL_405, "empty"),
    ("transparency-csv", "leuven", ALL_200, ALL_405, "empty"),
    ("transparency-csv", "herent", ALL_200, ALL_405, "empty"),
    ("transparency-json", "leuven", ALL_200, ALL_405, "empty"),
    ("transparency-json", "unknown-slug", "404 404 404 404 404 404 404 404 404 404", ALL_405, "empty"),
    # The services directory listing (HSDS 3.0): the community and its kinds of help, nobody's data.
    ("transparency-hsds", "leuven", ALL_200, ALL_405, "empty"),
    ("transparency-hsds", "unknown-slug", ALL_404, ALL_405, "empty"),
    # The export holds personal data: the community's coordinators only, never by slug.
    # Each download is written in the audit log (the `!`).
    ("coordinator-export", "", "L 404 404 404 404 404 200!+ 200! 200!+ 404", LOGIN_THEN_405, "empty"),
    ("coordinator-export", "?community=leuven",
     "L 404 404 404 404 404 200!+ 200! 200!+ 404", LOGIN_THEN_405, "empty"),
    ("coordinator-export", "?community=herent",
     "L 404 404 404 404 404 200!+ 200! 200! 404", LOGIN_THEN_405, "empty"),
    ("coordinator-export", "?community=nowhere",
     "L 404 404 404 404 404 200!+ 200! 404 404", LOGIN_THEN_405, "empty"),
    ("my-requests", "", LOGIN_THEN_200, LOGIN_THEN_200, "empty"),
    ("request-create", "", "L 200 200 200 200 200 200 200 404 404",
     "L 302! 302! 302! 302! 302! 302! 200 404 404", "request"),
    # Requests: the requester and the community's coordinators; the rest get the 404 of a
    # missing id, so ids cannot be probed.
    ("request-detail", "A",
     "L 200 404 404 404 404 200+ 404 200+ 404", "L 200 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("request-detail", "B",
     "L 200 404 404 404 404 200+ 404 200+ 404", "L 200 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("request-detail", "O",
     "L 200 404 404 404 404 200+ 404 200+ 404", "L 200 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("request-detail", "C",
     "L 404 404 404 404 404 200+ 404 200+ 404", "L 404 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("request-detail", "H",
     "L 404 404 404 404 404 404 200 200 404", "L 404 404 404 404 404 404 200 200 404", "empty"),
    ("request-detail", "missing-request", LOGIN_THEN_404, LOGIN_THEN_404, "empty"),
    # GET asks "are you sure?", POST cancels.
    ("request-cancel", "A",
     "L 200 404 404 404 404 200 404 200 404", "L 302! 404 404 404 404 302! 404 302! 404", "reason"),
    ("request-cancel", "B",
     "L 200 404 404 404 404 200 404 200 404", "L 302! 404 404 404 404 302! 404 302! 404", "reason"),
    ("request-cancel", "H",
     "L 404 404 404 404 404 404 200 200 404", "L 404 404 404 404 404 404 302! 302! 404", "reason"),
    ("request-cancel", "missing-request", LOGIN_THEN_404, LOGIN_THEN_404, "reason"),
    # Changing a request while no one accepted (A is proposed; B accepted: back to the page;
    # H is Herent's, and the payload's category is Leuven's: the form refuses it).
    ("request-edit", "A",
     "L 200+ 404 404 404 404 200+ 404 200+ 404", "L 302! 404 404 404 404 302! 404 302! 404", "request"),
    ("request-edit", "B",
     "L 302 404 404 404 404 302 404 302 404", "L 302 404 404 404 404 302 404 302 404", "request"),
    ("request-edit", "H",
     "L 404 404 404 404 404 404 200 200 404", "L 404 404 404 404 404 404 200 200 404", "request"),
    ("request-edit", "missing-request", LOGIN_THEN_404, LOGIN_THEN_404, "request"),
    # A note for the volunteer who accepted (B); A has no one yet: refused, nothing saved.
    ("request-note", "B", LOGIN_THEN_405, "L 302! 404 404 404 404 302! 404 302! 404", "note"),
    ("request-note", "A", LOGIN_THEN_405, "L 302 404 404 404 404 302 404 302 404", "note"),
    ("request-note", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "note"),
    # Closing the loop: D is the owner's request, done by volunteer_accepted (assignment Z),
    # who recorded what they paid. Its citizen answers, or a coordinator of its community for
    # them (for someone who phoned); A is not done yet: told so, nothing saved.
    ("request-thank", "D", LOGIN_THEN_405, "L 302! 404 404 404 404 302! 404 302! 404", "feedback"),
    ("request-thank", "A", LOGIN_THEN_405, "L 302 404 404 404 404 302 404 302 404", "feedback"),
    ("request-thank", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "feedback"),
    ("request-not-helped", "D", LOGIN_THEN_405, "L 302! 404 404 404 404 302! 404 302! 404", "feedback"),
    ("request-not-helped", "A", LOGIN_THEN_405, "L 302 404 404 404 404 302 404 302 404", "feedback"),
    ("request-not-helped", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "feedback"),
    ("expense-repaid", "D", LOGIN_THEN_405, "L 302! 404 404 404 404 302! 404 302! 404", "empty"),
    ("expense-repaid", "A", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("expense-dispute", "D", LOGIN_THEN_405, "L 302! 404 404 404 404 302! 404 302! 404", "reason"),
    ("expense-dispute", "A", LOGIN_THEN_405, LOGIN_THEN_404, "reason"),
    ("expense-dispute", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "reason"),
    # Settling an expense: the community's coordinators only (the citizen finds D: still 404).
    ("coordinator-expense-settle", "D", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "settle"),
    ("coordinator-expense-settle", "A", LOGIN_THEN_405, "L 404 404 404 404 404 404 404 404 404", "settle"),
    ("coordinator-expense-settle", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "settle"),
    # Recording what one paid: the task's volunteer only, once done (Q is accepted: told so).
    ("task-expense", "Z", "L 404 404 404 302 404 404 404 404 404",
     "L 404 404 404 302! 404 404 404 404 404", "expense"),
    ("task-expense", "Q", "L 404 404 404 302 404 404 404 404 404",
     "L 404 404 404 302 404 404 404 404 404", "expense"),
    ("task-expense", "missing-assignment", LOGIN_THEN_404, LOGIN_THEN_404, "expense"),
    # A point on the map in words (the map picker): anyone signed in, nothing personal.
    ("place-description", "?latitude=50.8735&longitude=4.7003", LOGIN_THEN_200, LOGIN_THEN_405, "empty"),
    # Volunteers' offers and inbox: their own only.
    ("offer-edit", "",
     "L 200 200 200 200 200 200 200 404 404", "L 302! 302! 302! 302! 302! 302! 200 404 404", "offer"),
    ("offer-pause", "", LOGIN_THEN_405, "L 404 404 302! 302! 302! 404 404 404 404", "pause"),
    ("offer-available-now", "", LOGIN_THEN_405, "L 404 404 302! 302! 302! 404 404 404 404", "available-now"),
    ("inbox", "", "L 302 302 200 200+ 200 302 302 302 302",
     "L 302 302 200 200+ 200 302 302 302 302", "empty"),
    # Tasks: only the volunteer they were proposed to; exact place and contact only once accepted.
    ("task-detail", "P", "L 404 404 200 404 404 404 404 404 404",
     "L 404 404 200 404 404 404 404 404 404", "empty"),
    ("task-detail", "Q", "L 404 404 404 200+ 404 404 404 404 404",
     "L 404 404 404 200+ 404 404 404 404 404", "empty"),
    ("task-detail", "missing-assignment", LOGIN_THEN_404, LOGIN_THEN_404, "empty"),
    ("task-accept", "P", LOGIN_THEN_405, "L 404 404 302! 404 404 404 404 404 404", "empty"),
    ("task-accept", "Q", LOGIN_THEN_405, "L 404 404 404 302 404 404 404 404 404", "empty"),
    ("task-accept", "missing-assignment", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("task-decline", "P", LOGIN_THEN_405, "L 404 404 302! 404 404 404 404 404 404", "reason"),
    ("task-decline", "Q", LOGIN_THEN_405, "L 404 404 404 302 404 404 404 404 404", "reason"),
    ("task-decline", "missing-assignment", LOGIN_THEN_405, LOGIN_THEN_404, "reason"),
    ("task-done", "P", LOGIN_THEN_405, "L 404 404 302 404 404 404 404 404 404", "hours"),
    ("task-done", "Q", LOGIN_THEN_405, "L 404 404 404 302! 404 404 404 404 404", "hours"),
    ("task-done", "missing-assignment", LOGIN_THEN_405, LOGIN_THEN_404, "hours"),
    # "I can't any more": a task one accepted, not a proposal (decline that).
    ("task-give-back", "P", LOGIN_THEN_405, "L 404 404 302 404 404 404 404 404 404", "empty"),
    ("task-give-back", "Q", LOGIN_THEN_405, "L 404 404 404 302! 404 404 404 404 404", "empty"),
    ("task-give-back", "missing-assignment", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    # Recurring help (series S, its occurrence W proposed to volunteer_proposed as WP): the
    # citizen and their coordinators cancel or pause it, from one of its requests; a one-off
    # request (A) has no series. The volunteer it is proposed to accepts every week; giving
    # the commitment back is for the one who made it (nobody yet: said so, nothing changes).
    ("series-cancel", "W",
     "L 200 404 404 404 404 200 404 200 404", "L 302! 404 404 404 404 302! 404 302! 404", "reason"),
    ("series-cancel", "A", LOGIN_THEN_404, LOGIN_THEN_404, "reason"),
    ("series-cancel", "missing-request", LOGIN_THEN_404, LOGIN_THEN_404, "reason"),
    ("series-pause", "W", LOGIN_THEN_405, "L 302! 404 404 404 404 302! 404 302! 404", "pause-until"),
    ("series-pause", "A", LOGIN_THEN_405, LOGIN_THEN_404, "pause-until"),
    ("series-pause", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "pause-until"),
    ("task-accept-every-week", "WP", LOGIN_THEN_405, "L 404 404 302! 404 404 404 404 404 404", "empty"),
    ("task-accept-every-week", "P", LOGIN_THEN_405, "L 404 404 302 404 404 404 404 404 404", "empty"),
    ("task-accept-every-week", "missing-assignment", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("task-give-back-all", "WP", LOGIN_THEN_405, "L 404 404 302 404 404 404 404 404 404", "empty"),
    ("task-give-back-all", "P", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("task-give-back-all", "missing-assignment", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    # Coordinators: their own community; a superuser any, by slug.
    ("dashboard", "", "L 404 404 404 404 404 200+ 200 200+ 404",
     "L 404 404 404 404 404 200+ 200 200+ 404", "empty"),
    ("dashboard", "?community=leuven", "L 404 404 404 404 404 200+ 200 200+ 404",
     "L 404 404 404 404 404 200+ 200 200+ 404", "empty"),
    ("dashboard", "?community=herent", "L 404 404 404 404 404 200+ 200 200 404",
     "L 404 404 404 404 404 200+ 200 200 404", "empty"),
    ("dashboard-match", "", LOGIN_THEN_405, "L 404 404 404 404 404 302! 302! 302! 404", "empty"),
    ("dashboard-match", "?community=leuven", LOGIN_THEN_405,
     "L 404 404 404 404 404 302! 302! 302! 404", "empty"),
    # A superuser without a community of their own gets the first by name (Herent).
    ("coordinator-intake", "",
     "L 404 404 404 404 404 200 200 200 404", "L 404 404 404 404 404 302! 200 200 404", "intake"),
    ("coordinator-intake", "?community=leuven", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 302! 200 302! 404", "intake"),
    ("coordinator-intake", "?community=herent", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 302! 200 200 404", "intake"),
    ("coordinator-callbacks", "",
     "L 404 404 404 404 404 200+ 200 200+ 404", "L 404 404 404 404 404 200+ 200 200+ 404", "empty"),
    ("coordinator-callbacks", "?community=leuven", "L 404 404 404 404 404 200+ 200 200+ 404",
     "L 404 404 404 404 404 200+ 200 200+ 404", "empty"),
    ("coordinator-callback-done", "C", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    # The requester of A may find A, but marking a call-back is for coordinators: 403.
    ("coordinator-callback-done", "A", LOGIN_THEN_405, "L 403 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-callback-done", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302! 302! 404", "empty"),
    ("coordinator-callback-done", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-request", "A",
     "L 404 404 404 404 404 200+ 404 200+ 404", "L 404 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("coordinator-request", "C",
     "L 404 404 404 404 404 200+ 404 200+ 404", "L 404 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("coordinator-request", "H",
     "L 404 404 404 404 404 404 200 200 404", "L 404 404 404 404 404 404 200 200 404", "empty"),
    ("coordinator-request", "missing-request", LOGIN_THEN_404, LOGIN_THEN_404, "empty"),
    ("coordinator-assign", "O", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "assign"),
    # A Leuven volunteer is no choice for a Herent request: the form says so.
    ("coordinator-assign", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 200 200 404", "assign"),
    ("coordinator-assign", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "assign"),
    ("coordinator-unassign", "B", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "reason"),
    ("coordinator-unassign", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302 302 404", "reason"),
    ("coordinator-unassign", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "reason"),
    # "Give to another volunteer instead": A's proposal moves to volunteer_other. O has no
    # live task (the page says so); a Leuven volunteer is no choice for Herent (neither is H live).
    ("coordinator-reassign", "A", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "assign"),
    ("coordinator-reassign", "B", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "assign"),
    ("coordinator-reassign", "O", LOGIN_THEN_405, "L 404 404 404 404 404 302 404 302 404", "assign"),
    ("coordinator-reassign", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302 302 404", "assign"),
    ("coordinator-reassign", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "assign"),
    # Holds: A is held by the Leuven coordinator (see `world`); holding it again renews it.
    ("coordinator-hold", "O", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-hold", "A", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302 404", "empty"),
    ("coordinator-hold", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302! 302! 404", "empty"),
    ("coordinator-hold", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-release-hold", "A", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-release-hold", "O", LOGIN_THEN_405, "L 404 404 404 404 404 302 404 302 404", "empty"),
    ("coordinator-release-hold", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302 302 404", "empty"),
    ("coordinator-release-hold", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-attach", "C", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "attach"),
    ("coordinator-attach", "A", LOGIN_THEN_405, "L 404 404 404 404 404 302 404 302 404", "attach"),
    ("coordinator-attach", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "attach"),
    # The team's work on a request: notes and calls, its community's coordinators only. B's
    # call is taken by the Leuven coordinator (see `world`): the superuser is told who has it.
    ("coordinator-team-note", "A", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "team-note"),
    ("coordinator-team-note", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302! 302! 404", "team-note"),
    ("coordinator-team-note", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "team-note"),
    ("coordinator-call-take", "C", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "call"),
    ("coordinator-call-take", "B", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302 404", "call"),
    ("coordinator-call-take", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302! 302! 404", "call"),
    ("coordinator-call-take", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "call"),
    ("coordinator-call-release", "B", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302 404", "empty"),
    ("coordinator-call-release", "C", LOGIN_THEN_405, "L 404 404 404 404 404 302 404 302 404", "empty"),
    ("coordinator-call-release", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-call-done", "B", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302 404", "outcome"),
    ("coordinator-call-done", "H", LOGIN_THEN_405, "L 404 404 404 404 404 404 302 302 404", "outcome"),
    ("coordinator-call-done", "missing-request", LOGIN_THEN_405, LOGIN_THEN_404, "outcome"),
    # Safeguarding. A concern: the requester about the volunteer who accepted (B), a
    # volunteer about the person whose request was proposed to them (P, Q); nobody else.
    ("concern-about-volunteer", "B",
     "L 200 404 404 404 404 404 404 404 404", "L 302! 404 404 404 404 404 404 404 404", "concern"),
    ("concern-about-volunteer", "A", LOGIN_THEN_404, LOGIN_THEN_404, "concern"),
    ("concern-about-volunteer", "missing-request", LOGIN_THEN_404, LOGIN_THEN_404, "concern"),
    ("concern-about-requester", "P",
     "L 404 404 200 404 404 404 404 404 404", "L 404 404 302! 404 404 404 404 404 404", "concern"),
    ("concern-about-requester", "Q",
     "L 404 404 404 200 404 404 404 404 404", "L 404 404 404 302! 404 404 404 404 404", "concern"),
    ("concern-about-requester", "missing-assignment", LOGIN_THEN_404, LOGIN_THEN_404, "concern"),
    # The reports (CR: the owner's, about B's volunteer) name their reporter: coordinators only.
    ("coordinator-concerns", "", "L 404 404 404 404 404 200+ 200 200 404", LOGIN_THEN_405, "empty"),
    ("coordinator-concerns", "?community=leuven",
     "L 404 404 404 404 404 200+ 200 200+ 404", LOGIN_THEN_405, "empty"),
    ("coordinator-concern-dealt-with", "CR", LOGIN_THEN_405,
     "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-concern-dealt-with", "missing-report", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-volunteer-suspend", "volunteer_accepted",
     "L 404 404 404 404 404 200 404 200 404", "L 404 404 404 404 404 302! 404 302! 404", "reason"),
    ("coordinator-volunteer-suspend", "owner", LOGIN_THEN_404, LOGIN_THEN_404, "reason"),
    # Nobody is suspended in this world: lifting says so and changes nothing.
    ("coordinator-volunteer-lift-suspension", "volunteer_accepted",
     LOGIN_THEN_405, "L 404 404 404 404 404 302 404 302 404", "empty"),
    ("coordinator-volunteer-lift-suspension", "owner", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-messages", "",
     "L 404 404 404 404 404 200 200 200 404", "L 404 404 404 404 404 302! 200 200 404", "message"),
    ("coordinator-messages", "?community=leuven", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 302! 200 302! 404", "message"),
    # A community's look: its coordinators set it; every page loads its colours (and logo:
    # none in this world), public like the pages that show them.
    ("coordinator-identity", "", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 302! 302! 302! 404", "identity"),
    ("coordinator-identity", "?community=leuven", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 302! 302! 302! 404", "identity"),
    ("community-colours", "leuven", ALL_200, ALL_405, "empty"),
    ("community-colours", "unknown-slug", ALL_404, ALL_405, "empty"),
    ("community-logo", "leuven", ALL_404, ALL_405, "empty"),
    # The volunteer directory and a volunteer's checks: their own community's coordinators only
    # (a superuser picks the community; without one, Herent, where the volunteer is unknown).
    ("coordinator-volunteers", "", "L 404 404 404 404 404 200 200 200 404", LOGIN_THEN_405, "empty"),
    ("coordinator-volunteers", "?community=leuven",
     "L 404 404 404 404 404 200 200 200 404", LOGIN_THEN_405, "empty"),
    # The waiting list of volunteers: each coordinator their own community's (no one waits in
    # this world, so letting in changes nothing).
    ("coordinator-waiting-list", "", "L 404 404 404 404 404 200 200 200 404", LOGIN_THEN_405, "empty"),
    ("coordinator-waiting-list-switch", "", LOGIN_THEN_405,
     "L 404 404 404 404 404 302! 302! 302! 404", "waiting-list-on"),
    ("coordinator-waiting-list-switch", "?community=leuven", LOGIN_THEN_405,
     "L 404 404 404 404 404 302! 302! 302! 404", "waiting-list-on"),
    ("coordinator-waiting-list-let-in", "", LOGIN_THEN_405,
     "L 404 404 404 404 404 302 302 302 404", "let-in-first"),
    ("coordinator-volunteer-checks", "person:volunteer_other",
     "L 404 404 404 404 404 200 404 404 404", "L 404 404 404 404 404 302! 404 404 404", "check"),
    ("coordinator-volunteer-checks", "person:volunteer_other?community=leuven",
     "L 404 404 404 404 404 200 404 200 404", "L 404 404 404 404 404 302! 404 302! 404", "check"),
    # The citizen offers no help: no checks page.
    ("coordinator-volunteer-checks", "person:owner", LOGIN_THEN_404, LOGIN_THEN_404, "check"),
    # Twilio's webhooks: signed with the auth token, never with a session (403 unsigned,
    # nothing changes; tests/notifications/test_sms_inbound.py signs them).
    ("sms-inbound", "", ALL_405, ALL_403, "empty"),
    ("sms-status", "", ALL_405, ALL_403, "empty"),
    # API keys: a coordinator's own community's (K is Leuven's); making one shows it once.
    ("coordinator-api-keys", "", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 200! 200! 200! 404", "api-key"),
    ("coordinator-api-keys", "?community=leuven", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 200! 200! 200! 404", "api-key"),
    ("coordinator-api-key-revoke", "K", LOGIN_THEN_405, "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-api-key-revoke", "missing-key", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    # Open311: public service lists; requests only with a partner's key (its own tests in
    # tests/partners/), never with a session, whoever is signed in.
    ("open311-discovery", "xml", ALL_200, ALL_405, "empty"),
    ("open311-services", "xml?jurisdiction_id=leuven", ALL_200, ALL_405, "empty"),
    ("open311-service", "shopping,json?jurisdiction_id=leuven", ALL_200, ALL_405, "empty"),
    ("open311-requests", "xml?jurisdiction_id=leuven", ALL_403, ALL_403, "open311"),
    ("open311-request", "A,xml?jurisdiction_id=leuven", ALL_403, ALL_405, "empty"),
    # /api/v1/: the description and its docs for anyone; the rest with a bearer key
    # (tests/partners/test_api.py) or a referrer's session, acting for their organisation G
    # (its referral R, never R2 or a citizen's; CSRF: tests/partners/test_api_session.py).
    # No other session. The root is a debug page: 404.
    ("api-v1:openapi-json", "", ALL_200, ALL_200, "empty"),
    ("api-v1:openapi-view", "", ALL_200, ALL_200, "empty"),
    ("api-v1:api-root", "", ALL_404, ALL_404, "empty"),
    ("api-v1:categories", "", "401 401 401 401 401 401 401 401 401 200", ALL_405, "empty"),
    ("api-v1:figures", "", "401 401 401 401 401 401 401 401 401 200", ALL_405, "empty"),
    # R's address (Tiensestraat) is the referrer's organisation's own.
    ("api-v1:list_requests", "", "401 401 401 401 401 401 401 401 401 200+",
     "401 401 401 401 401 401 401 401 401 400", "empty"),
    ("api-v1:create_request", "", "401 401 401 401 401 401 401 401 401 200+",
     "401 401 401 401 401 401 401 401 401 400", "empty"),
    ("api-v1:read_request", "A", "401 401 401 401 401 401 401 401 401 404", ALL_405, "empty"),
    ("api-v1:read_request", "R", "401 401 401 401 401 401 401 401 401 200+", ALL_405, "empty"),
    ("api-v1:read_request", "R2", "401 401 401 401 401 401 401 401 401 404", ALL_405, "empty"),
    ("api-v1:cancel_request", "A", ALL_405, "401 401 401 401 401 401 401 401 401 404", "empty"),
    ("api-v1:cancel_request", "R", ALL_405, "401 401 401 401 401 401 401 401 401 200!+", "empty"),
    ("api-v1:cancel_request", "R2", ALL_405, "401 401 401 401 401 401 401 401 401 404", "empty"),
    # Partner organisations and referrers. A referrer has no community: no citizen's or
    # volunteer's pages (above), no request page, not even of their own referral R.
    ("request-detail", "R", "L 404 404 404 404 404 200+ 404 200+ 404",
     "L 404 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("coordinator-request", "R", "L 404 404 404 404 404 200+ 404 200+ 404",
     "L 404 404 404 404 404 200+ 404 200+ 404", "empty"),
    ("coordinator-partners", "", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 302! 302! 302! 404", "organisation"),
    ("coordinator-partners", "?community=leuven", "L 404 404 404 404 404 200 200 200 404",
     "L 404 404 404 404 404 302! 302! 302! 404", "organisation"),
    # G's page lists its referrals (R's neighbour): the community's coordinators only.
    ("coordinator-partner", "G", "L 404 404 404 404 404 200+ 404 200+ 404",
     "L 404 404 404 404 404 302! 404 302! 404", "invite"),
    ("coordinator-partner", "missing-organisation", LOGIN_THEN_404, LOGIN_THEN_404, "invite"),
    ("coordinator-partner-deactivate", "G", LOGIN_THEN_405,
     "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-partner-deactivate", "missing-organisation", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-referrer-deactivate", "F", LOGIN_THEN_405,
     "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-referrer-deactivate", "missing-referrer", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    # Reactivating: G and F are active in this world, so it changes nothing (its effect:
    # tests/partners/test_referral_cancel_and_reactivation.py).
    ("coordinator-partner-reactivate", "G", LOGIN_THEN_405,
     "L 404 404 404 404 404 302 404 302 404", "empty"),
    ("coordinator-partner-reactivate", "missing-organisation", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    ("coordinator-referrer-reactivate", "F", LOGIN_THEN_405,
     "L 404 404 404 404 404 302 404 302 404", "empty"),
    ("coordinator-referrer-reactivate", "missing-referrer", LOGIN_THEN_405, LOGIN_THEN_404, "empty"),
    # The referrer's own pages: their organisation's referrals (R, never R2), filing one.
    ("referrals", "", "L 404 404 404 404 404 404 404 404 200", LOGIN_THEN_405, "empty"),
    ("referral-create", "", "L 404 404 404 404 404 404 404 404 200",
     "L 404 404 404 404 404 404 404 404 302!", "referral"),
    # Cancelling a referral: only the referrer who filed it (R); the question, then the cancel.
    ("referral-cancel", "R", "L 404 404 404 404 404 404 404 404 200",
     "L 404 404 404 404 404 404 404 404 302!", "empty"),
    ("referral-cancel", "R2", LOGIN_THEN_404, LOGIN_THEN_404, "empty"),
    ("referral-cancel", "A", LOGIN_THEN_404, LOGIN_THEN_404, "empty"),
    # An invitation's link: whoever holds it joins (a new account, signed in); a used,
    # expired or made-up token joins no one.
    ("referrer-invitation", "I", ALL_200, "302! 302! 302! 302! 302! 302! 302! 302! 302! 302!", "join"),
    ("referrer-invitation", "bad-invitation", ALL_404, ALL_404, "join"),
    # Two-step sign-in: its pages are for coordinators, referrers and staff (signed in here
    # with the step done: the code page sends them on, enrolment offers another phone, new
    # recovery codes replace the old); citizens and volunteers have none. A coordinator resets
    # a coordinator's or referrer's of their community (audited), never their own.
    ("two-factor-enrol", "", "L 404 404 404 404 404 200 200 200 200",
     "L 404 404 404 404 404 302 302 302 302", "empty"),
    ("two-factor-verify", "", "L 404 404 404 404 404 302 302 302 302",
     "L 404 404 404 404 404 302 302 302 302", "empty"),
    ("two-factor-recovery-codes", "", "L 404 404 404 404 404 200 200 200 200",
     "L 404 404 404 404 404 302! 302! 302! 302!", "empty"),
    ("coordinator-two-factor", "", "L 404 404 404 404 404 200 200 200 404", LOGIN_THEN_405, "empty"),
    ("coordinator-two-factor", "?community=leuven", "L 404 404 404 404 404 200 200 200 404",
     LOGIN_THEN_405, "empty"),
    ("coordinator-two-factor-reset", "person:referrer", LOGIN_THEN_405,
     "L 404 404 404 404 404 302! 404 302! 404", "empty"),
    ("coordinator-two-factor-reset", "person:coordinator_other", LOGIN_THEN_405,
     "L 404 404 404 404 404 404 404 302! 404", "empty"),
]
# The admin (scoped per community) and the language switch, probed the same way.
SEPARATE_MATRIX: list[tuple[str, str, str, str, str]] = [
    ("admin:index", "", "A A A A A A 200 200 200 A", "A A A A A A 200 200 200 A", "empty"),
    ("admin:aid_helprequest_changelist", "", "A A A A A A 200+ 200 200+ A",
     "A A A A A A 200 200 200 A", "empty"),
    ("admin:aid_helprequest_change", "A", "A A A A A A 200+ 302 200+ A",
     "A A A A A A 200+ 302 200+ A", "empty"),
    ("admin:aid_assignment_change", "Q", "A A A A A A 200 302 200 A", "A A A A A A 403 403 200 A", "empty"),
    # The partner records: read-only, the community's own (a referrer is no staff).
    ("admin:partners_referral_changelist", "", "A A A A A A 200 200 200 A",
     "A A A A A A 200 200 200 A", "empty"),
    ("admin:accounts_user_change", "owner", "A A A A A A 200+ 302 200+ A",
     "A A A A A A 403 403 200+ A", "empty"),
    ("set_language", "",
     "302 302 302 302 302 302 302 302 302 302", "302 302 302 302 302 302 302 302 302 302", "language"),
]
# fmt: on
SEPARATELY_TREATED = {"set_language"}


@dataclasses.dataclass
class World:
    """The people and requests every cell starts from."""

    people: dict[str, User | None]
    requests: dict[str, HelpRequest]
    assignments: dict[str, Assignment]
    leuven: Community
    shopping: Category
    keys: dict[str, ApiKey] = dataclasses.field(default_factory=dict)
    organisations: dict[str, PartnerOrganisation] = dataclasses.field(default_factory=dict)
    referrers: dict[str, Referrer] = dataclasses.field(default_factory=dict)
    invitation_tokens: dict[str, str] = dataclasses.field(default_factory=dict)
    reports: dict[str, ConcernReport] = dataclasses.field(default_factory=dict)

    def path(self, name: str, target: str) -> str:
        if target.startswith("person:"):  # "person:volunteer_other?community=leuven"
            persona, _mark, query = target.removeprefix("person:").partition("?")
            return reverse(name, args=[self.people[persona].pk]) + (f"?{query}" if query else "")
        if target.startswith("?") or not target:
            return reverse(name) + target
        if "," in target or "?" in target:  # "A,xml?jurisdiction_id=leuven": arguments, query
            arguments, _mark, query = target.partition("?")
            args = [self.requests[arg].pk if arg in self.requests else arg for arg in arguments.split(",")]
            return reverse(name, args=args) + (f"?{query}" if query else "")
        if target in self.requests:
            return reverse(name, args=[self.requests[target].pk])
        if target in self.assignments:
            return reverse(name, args=[self.assignments[target].pk])
        if target == "missing-request":
            return reverse(name, args=[HelpRequest.objects.order_by("-pk").first().pk + 1000])
        if target in self.keys:
            return reverse(name, args=[self.keys[target].pk])
        if target == "missing-key":
            return reverse(name, args=[ApiKey.objects.order_by("-pk").first().pk + 1000])
        if target == "missing-assignment":
            return reverse(name, args=[Assignment.objects.order_by("-pk").first().pk + 1000])
        if target in self.organisations:
            return reverse(name, args=[self.organisations[target].pk])
        if target == "missing-organisation":
            return reverse(name, args=[PartnerOrganisation.objects.order_by("-pk").first().pk + 1000])
        if target in self.referrers:
            return reverse(name, args=[self.referrers[target].pk])
        if target == "missing-referrer":
            return reverse(name, args=[Referrer.objects.order_by("-pk").first().pk + 1000])
        if target in self.invitation_tokens:
            return reverse(name, args=[self.invitation_tokens[target]])
        if target == "bad-invitation":
            return reverse(name, args=["not-a-token"])
        if target == "bad-token":
            return reverse(name, args=["MQ", "set-password"])
        if target in self.people:
            return reverse(name, args=[self.people[target].pk])
        if target in self.reports:
            return reverse(name, args=[self.reports[target].pk])
        if target == "missing-report":
            return reverse(name, args=[ConcernReport.objects.order_by("-pk").first().pk + 1000])
        return reverse(name, args=[target])  # a community slug

    def post_data(self, key: str) -> dict:
        tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
        request = {
            "category": self.shopping.pk,
            "description": "Bread and milk, please.",
            "urgency": 2,
            "address": "Naamsestraat 12, 3000 Leuven",
            "window_1_date": tomorrow,
            "window_1_part": "0",
        }
        return {
            "empty": {},
            "signup": {
                "username": "newcomer",
                "first_name": "New",
                "email": "newcomer@example.org",
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
                "community": self.leuven.pk,
                "preferred_language": "nl",
            },
            "login": {"username": "citizen", "password": PASSWORD},
            "own-password": {"password": PASSWORD},
            "password-change": {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
            "password-reset": {"email": "peeters@example.org"},
            "new-password": {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
            "request": request,
            "intake": request
            | {"contact_name": "Mr Nieuw", "contact_phone": "016 11 22 33", "any_time": "on"},
            "reason": {"reason": "Not needed any more"},
            "check": {"kind": "id_seen", "checked_on": timezone.localdate().isoformat()},
            "team-note": {"text": "Her daughter visits on Fridays."},
            "call": {"kind": "call_back"},
            "outcome": {"outcome": "She knows who is coming."},
            "feedback": {"message": "Thank you so much!"},
            "settle": {"note": "Agreed on the phone: paid back in cash."},
            "expense": {"amount": "12,50", "receipt_note": "Receipt in the bag."},
            "concern": {"text": "Something worried me."},
            "note": {"note": "Ring at the back door, please."},
            "offer": {
                "skills": [self.shopping.pk],
                "address": "Ladeuzeplein 5, 3000 Leuven",
                "max_km": "4",
                "availability": ["0", "1", "5"],
                "capacity": "2",
            },
            "pause": {"paused": "1"},
            "available-now": {"available": "1"},
            "waiting-list-on": {"on": "1"},
            "let-in-first": {"how_many": "3"},
            "pause-until": {"paused_until": (timezone.localdate() + dt.timedelta(days=3)).isoformat()},
            "hours": {"hours_spent": "1.5"},
            "assign": {"volunteer": self.people["volunteer_other"].pk, "reason": "She lives next door"},
            "attach": {"person": self.people["owner"].pk},
            "message": {"subject": "Thank you", "body": "Thanks for helping.", "skill": self.shopping.pk},
            "language": {"language": "fr", "next": "/"},
            "api-key": {"organisation": "Leuven 311"},
            "identity": {
                "service_name": "Leuven Helpt",
                "accent_colour": "#0b5394",
                "contact_phone": "016 27 20 00",
            },
            "organisation": {"name": "Buurtwerk"},
            "invite": {"email": "new-referrer@example.org"},
            "referral": {
                **request,
                "contact_name": "Mr Newref",
                "contact_phone": "0470 12 12 12",
                "consent": "on",
            },
            "join": {
                "first_name": "Joining",
                "last_name": "Referrer",
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
            "open311": {
                "service_code": "shopping",
                "address_string": "Naamsestraat 12, 3000 Leuven",
                "description": "Bread",
                "first_name": "Mr",
                "last_name": "Nieuw",
                "phone": "016 11 22 33",
                "attribute[consent]": "yes",
            },
        }[key]


@pytest.fixture
def world(community, other_community, shopping, citizen, other_citizen, coordinator, outsider_coordinator):
    citizen.email = "peeters@example.org"
    citizen.save()
    # Room for two more: the socket rows propose X to this volunteer on top of P, and W is theirs.
    proposed = make_volunteer("volunteer", community, [shopping], LADEUZEPLEIN, capacity=3)
    accepted = make_volunteer("second-volunteer", community, [shopping], KESSEL_LO)
    idle = make_volunteer("third-volunteer", community, [shopping], LADEUZEPLEIN, capacity=3)
    for index, volunteer in enumerate([proposed, accepted, idle]):
        volunteer.email = f"volunteer{index}@example.org"
        volunteer.save()
    superuser = make_user("root", None, is_superuser=True, is_staff=True)
    _grant_coordinator_admin(coordinator)
    _grant_coordinator_admin(outsider_coordinator)

    # D: done by the volunteer who then accepts B, who paid for the shopping.
    shopping.carries_expenses = True
    shopping.save()
    request_d = post_request(citizen, community, shopping, location=PARIJSSTRAAT)
    done = services.assignment_propose(help_request=request_d, volunteer=accepted, km=1.5)
    services.assignment_accept(assignment=done, volunteer=accepted)
    services.assignment_complete(assignment=done, volunteer=accepted)
    services.expense_record(assignment=done, volunteer=accepted, amount=Decimal("8.40"))
    request_a = post_request(citizen, community, shopping, location=PARIJSSTRAAT)
    proposal = services.assignment_propose(help_request=request_a, volunteer=proposed, km=0.7)
    request_b = post_request(citizen, community, shopping, location=PARIJSSTRAAT)
    task = services.assignment_propose(help_request=request_b, volunteer=accepted, km=1.5)
    services.assignment_accept(assignment=task, volunteer=accepted)
    request_o = post_request(citizen, community, shopping, location=PARIJSSTRAAT)
    phoned_in = services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Soup from the pharmacy corner.",
        urgency=2,
        location=TIENSESTRAAT,
        any_time=True,
        contact_name="Mevrouw Callsen",
        contact_phone="+32 470 11 22 33",  # the citizen's: the account to attach it to
    )
    weekly = help_series_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=shopping,
        description="Weekly shopping, please.",
        location=PARIJSSTRAAT,
        every_weeks=1,
        starts=timezone.localdate() + dt.timedelta(days=1),
        part_of_day=PartOfDay.MORNING,
    )
    request_w = weekly.occurrences.get()
    weekly_proposal = services.assignment_propose(help_request=request_w, volunteer=proposed, km=0.7)
    services.help_request_hold(help_request=request_a, coordinator=coordinator)
    services.call_take(help_request=request_b, coordinator=coordinator)
    report = services.concern_report_file(
        reporter=citizen, help_request=request_b, about="volunteer", text="He was late and rude."
    )
    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")
    herent_citizen = make_user("herent-citizen", other_community, last_name="Janssens")
    request_h = post_request(herent_citizen, other_community, gardening, location=HERENT)
    leuven_311 = partner_services.organisation_get_or_create(community=community, name="Leuven 311")
    key, _token = partner_services.api_key_create(organisation=leuven_311, created_by=coordinator)
    practice = referrals.organisation_register(
        community=community, name="Huisartsen", coordinator=coordinator
    )
    referrer = join_as_referrer(practice, coordinator, "referrer@example.org")
    referral = refer(referrer, shopping, "Mevrouw Refsen")
    elsewhere = referrals.organisation_register(community=community, name="OCMW", coordinator=coordinator)
    other_referrer = join_as_referrer(elsewhere, coordinator, "other-referrer@example.org")
    other_referral = refer(other_referrer, shopping, "Meneer Elsewhereson")
    invitation_token = invitation_token_for(practice, coordinator, "invited@example.org")
    # No run is due: "match now" must visibly queue one.
    MatchingQueue.objects.update(due_at=None)
    return World(
        people={
            "anonymous": None,
            "owner": citizen,
            "stranger": other_citizen,
            "volunteer_proposed": proposed,
            "volunteer_accepted": accepted,
            "volunteer_other": idle,
            "coordinator": coordinator,
            "coordinator_other": outsider_coordinator,
            "superuser": superuser,
            "referrer": referrer,
        },
        requests={
            "A": request_a,
            "B": request_b,
            "O": request_o,
            "C": phoned_in,
            "H": request_h,
            "R": referral,
            "R2": other_referral,
            "D": request_d,
            "W": request_w,
        },
        assignments={"P": proposal, "Q": task, "Z": done, "WP": weekly_proposal},
        leuven=community,
        shopping=shopping,
        keys={"K": key},
        reports={"CR": report},
        organisations={"G": practice},
        referrers={"F": referrer.referrer},
        invitation_tokens={"I": invitation_token},
    )


def invitation_token_for(organisation, coordinator, email: str) -> str:
    referrals.referrer_invite(organisation=organisation, email=email, invited_by=coordinator, language="en")
    body = OutgoingMessage.objects.filter(to_address=email).latest("pk").body
    return body.split("/referrals/join/")[1].split("/")[0]


def join_as_referrer(organisation, coordinator, email: str) -> User:
    token = invitation_token_for(organisation, coordinator, email)
    return referrals.invitation_accept(
        invitation=referrals.invitation_find(token),
        first_name="Dokter",
        last_name="Referrer",
        password=PASSWORD,
        language="en",
    )


def refer(referrer: User, category: Category, neighbour: str) -> HelpRequest:
    return referrals.referral_create(
        referrer=referrer.referrer,
        consent=True,
        contact_name=neighbour,
        contact_phone="0470 34 34 34",
        category=category,
        description="Shopping for a patient.",
        urgency=2,
        location=TIENSESTRAAT,
        any_time=True,
    )


def database_state() -> tuple:
    """Everything an action could change (not sessions or last_login: logging in is no change)."""
    return (
        list(
            HelpRequest.objects.order_by("pk").values_list(
                "pk",
                "status",
                "requester_id",
                "called_back_status",
                "description",
                "address",
                "held_until",
                "held_by_id",
                "call_taken_by_id",
                "call_taken_until",
            )
        ),
        list(Assignment.objects.order_by("pk").values_list("pk", "status", "hours_spent", "decline_reason")),
        list(
            VolunteerOffer.objects.order_by("pk").values_list(
                "pk", "is_paused", "max_km", "capacity", "availability", "address", "suspended_at"
            )
        ),
        list(User.objects.order_by("pk").values_list("pk", "username", "is_active", "password", "email")),
        list(MatchingQueue.objects.order_by("pk").values_list("community_id", "due_at")),
        StatusChange.objects.count(),
        TimeWindow.objects.count(),
        AuditEntry.objects.count(),
        CoordinatorMessage.objects.count(),
        TeamNote.objects.count(),
        list(ConcernReport.objects.order_by("pk").values_list("pk", "status")),
        OutgoingMessage.objects.count(),
        list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at")),
        PartnerOrganisation.objects.count(),
        list(
            Community.objects.order_by("pk").values_list(
                "pk", "service_name", "accent_colour", "logo_content_type"
            )
        ),
        VolunteerCheck.objects.count(),
        list(PartnerOrganisation.objects.order_by("pk").values_list("pk", "deactivated_at")),
        list(Referrer.objects.order_by("pk").values_list("pk", "deactivated_at")),
        list(ReferrerInvitation.objects.order_by("pk").values_list("pk", "accepted_at", "withdrawn_at")),
        Referral.objects.count(),
        list(TaskFeedback.objects.order_by("pk").values_list("pk", "kind", "message", "followed_up_at")),
        list(TaskExpense.objects.order_by("pk").values_list("pk", "status", "amount", "settlement_note")),
        list(HelpSeries.objects.order_by("pk").values_list("pk", "active", "paused_until")),
        list(
            HelpSeries.standing_volunteers.through.objects.order_by("pk").values_list(
                "helpseries_id", "user_id"
            )
        ),
        # Two-step sign-in: confirmed authenticators and recovery codes (a pending enrolment
        # is no action: showing the enrolment page makes one).
        list(TOTPDevice.objects.filter(confirmed=True).order_by("pk").values_list("pk", "user_id")),
        StaticToken.objects.count(),
    )


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def secrets_for(persona: str) -> tuple[str, ...]:
    # The owner may of course see their own data, the referrer their organisation's
    # referrals; nobody but coordinators sees the caller's or another organisation's.
    if persona == "owner":
        return CALLER_SECRETS + REFERRAL_SECRETS + OTHER_REFERRAL_SECRETS
    if persona == "referrer":
        return OWNER_SECRETS + CALLER_SECRETS + OTHER_REFERRAL_SECRETS
    return OWNER_SECRETS + CALLER_SECRETS + REFERRAL_SECRETS + OTHER_REFERRAL_SECRETS


def check_cell(world: World, name: str, target: str, method: str, persona: str, code: str, data_key: str):
    """Probe one cell; returns a description of what was wrong, or None."""
    expected_change = code.endswith("!") or "!" in code
    may_show_personal_data = "+" in code
    status = code.rstrip("!+")
    with transaction.atomic():
        savepoint = transaction.savepoint()
        client = Client()
        user = world.people[persona]
        if user is not None:
            sign_in(client, user)
        path = world.path(name, target)
        before = database_state()
        response = client.get(path) if method == "GET" else client.post(path, world.post_data(data_key))
        body = body_of(response)
        after = database_state()
        transaction.savepoint_rollback(savepoint)
    problems = []
    if status == "L":
        if response.status_code != 302 or not response.url.startswith(reverse("login")):
            problems.append(
                f"expected 302 to login, got {response.status_code} {response.get('Location', '')}"
            )
    elif status == "A":
        if response.status_code != 302 or not response.url.startswith(reverse("admin:login")):
            problems.append(f"expected 302 to admin login, got {response.status_code}")
    elif response.status_code != int(status):
        problems.append(f"expected {status}, got {response.status_code} {response.get('Location', '')}")
    elif int(status) == 302 and response.url.startswith(reverse("login")):
        problems.append("redirected to the login page")
    if expected_change and before == after:
        problems.append("expected a change in the database, nothing changed")
    if not expected_change and before != after:
        problems.append("the database changed")
    if not may_show_personal_data:
        leaked = [secret for secret in secrets_for(persona) if secret in body]
        if leaked:
            problems.append(f"personal data in the response: {leaked}")
    if problems:
        return f"{method} {path} as {persona} ({code}): " + "; ".join(problems)
    return None


def url_names_of_the_project() -> set[str]:
    """Every named URL pattern, walking the resolver (the admin's namespace aside), with
    its namespace as `reverse` takes it (`api-v1:categories`)."""
    names: set[str] = set()
    unnamed: list[str] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                if pattern.name is None:
                    unnamed.append(prefix + str(pattern.pattern))
                else:
                    names.add(namespace + pattern.name)

    walk(get_resolver().url_patterns, "", "")
    assert not unnamed, f"URL patterns without a name cannot have a matrix row: {unnamed}"
    return names


def test_every_url_of_the_project_has_rows_in_the_matrix():
    in_matrix = {row[0] for row in MATRIX}
    assert in_matrix == url_names_of_the_project() - SEPARATELY_TREATED, (
        "a URL without a matrix row (or a row for a URL that no longer exists): "
        f"{sorted(in_matrix ^ (url_names_of_the_project() - SEPARATELY_TREATED))}"
    )
    assert {row[0] for row in SEPARATE_MATRIX} >= SEPARATELY_TREATED


def every_cell(matrix):
    for name, target, get_codes, post_codes, data_key in matrix:
        for method, codes in (("GET", get_codes), ("POST", post_codes)):
            expected = codes.split()
            assert len(expected) == len(PERSONAS), f"{name} {target} {method}: {len(expected)} columns"
            for persona, code in zip(PERSONAS, expected, strict=True):
                yield name, target, method, persona, code, data_key


@pytest.fixture
def no_rate_limits(settings):
    # The matrix logs in, signs up and posts hundreds of times from one address.
    settings.RATE_LIMITS = {group: "100000/m" for group in settings.RATE_LIMITS}


def probe_all(world, matrix) -> tuple[int, list[str]]:
    problems, cells = [], 0
    for name, target, method, persona, code, data_key in every_cell(matrix):
        cells += 1
        problem = check_cell(world, name, target, method, persona, code, data_key)
        if problem:
            problems.append(problem)
    return cells, problems


# The URL cells in parts, so parallel test processes share them.
MATRIX_PARTS = 4


@pytest.mark.slow
@pytest.mark.parametrize("part", range(MATRIX_PARTS))
def test_every_cell_of_the_access_matrix(world, no_rate_limits, capsys, part):
    cells, problems = probe_all(world, MATRIX[part::MATRIX_PARTS])
    with capsys.disabled():
        print(f"\naccess matrix, part {part + 1} of {MATRIX_PARTS}: {cells} URL cells probed")
    assert not problems, f"{len(problems)} of the cells differ:\n" + "\n".join(problems)


@pytest.mark.slow
def test_every_admin_and_language_cell_and_every_post_without_a_csrf_token(world, no_rate_limits, capsys):
    separate, problems = probe_all(world, SEPARATE_MATRIX)
    csrf_cells, csrf_problems = probe_csrf(world)
    with capsys.disabled():
        print(f"\naccess matrix: {separate} admin/language cells, {csrf_cells} without a CSRF token")
    problems += csrf_problems
    assert not problems, f"{len(problems)} of the cells differ:\n" + "\n".join(problems)


# What a session that gave only the password still reaches: the second step itself,
# signing out, the probes and what browsers fetch on their own.
OPEN_BEFORE_THE_SECOND_STEP = {
    "healthz",
    "readyz",
    "metrics",
    "service-worker",
    "web-manifest",
    "logout",
    "two-factor-enrol",
    "two-factor-verify",
    "two-factor-recovery-codes",
}


@pytest.mark.slow
def test_before_the_second_step_coordinators_referrers_and_superusers_are_sent_to_the_code_page(world):
    """Every URL of the matrix, as each persona who sees others' data, signed in with the
    password only (their authenticator set up): a 302 to the code page, or for what answers
    JSON a 403 that says so; never the page."""
    targets: dict[str, str] = {}
    for name, target, *_codes in MATRIX + SEPARATE_MATRIX:
        targets.setdefault(name, target)
    problems = []
    for persona in ("coordinator", "coordinator_other", "superuser", "referrer"):
        user = world.people[persona]
        enrol(user)
        client = Client()
        client.force_login(user)
        for name, target in targets.items():
            if name in OPEN_BEFORE_THE_SECOND_STEP:
                continue
            path = world.path(name, target)
            for response in (client.get(path), client.post(path, {})):
                to_the_code_page = response.status_code == 302 and response.url.startswith(
                    reverse("two-factor-verify")
                )
                told_in_json = (
                    response.status_code == 403 and response.json().get("error") == "two_factor_required"
                    if response.get("Content-Type", "").startswith("application/json")
                    else False
                )
                if name == "set_language":  # the language menu works half-way too
                    to_the_code_page = response.status_code == 302
                if not (to_the_code_page or told_in_json):
                    problems.append(
                        f"{response.request['REQUEST_METHOD']} {path} as {persona}: {response.status_code}"
                    )
    assert not problems, "\n".join(problems)


def probe_csrf(world) -> tuple[int, list[str]]:
    """Every POST that changes something, sent without the CSRF token: 403, nothing changes."""
    problems, cells = [], 0
    for name, target, method, persona, code, data_key in every_cell(MATRIX):
        if method != "POST" or "!" not in code:
            continue
        cells += 1
        with transaction.atomic():
            savepoint = transaction.savepoint()
            client = Client(enforce_csrf_checks=True)
            if world.people[persona] is not None:
                sign_in(client, world.people[persona])
            before = database_state()
            response = client.post(world.path(name, target), world.post_data(data_key))
            after = database_state()
            transaction.savepoint_rollback(savepoint)
        if response.status_code != 403 or before != after:
            problems.append(
                f"POST {world.path(name, target)} as {persona} without CSRF token: "
                f"{response.status_code}, changed: {before != after}"
            )
    return cells, problems


# The socket: which groups each persona hears


SOCKET_ORIGIN = (b"origin", b"http://localhost")


def session_cookie(user) -> bytes:
    client = Client()
    sign_in(client, user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(user) -> tuple[WebsocketCommunicator, bool]:
    from mutualaid.asgi import application

    headers = [SOCKET_ORIGIN, (b"host", b"localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, "/ws/updates/", headers=headers)
    connected, _code = await communicator.connect(timeout=5)
    return communicator, connected


async def events_heard(communicator: WebsocketCommunicator) -> list[tuple]:
    heard = []
    while not await communicator.receive_nothing(timeout=0.3):
        message = await communicator.receive_json_from(timeout=1)
        if message["type"] == "task.changed":
            heard.append((message["request"], message["change"]))
    return heard


# Who hears each change of request X (the owner's), Y (phoned in), Z (Herent): by persona.
# fmt: off
SOCKET_MATRIX = {
    # change: anonymous, owner, stranger, v. proposed, v. accepted, v. other, coord., coord. other, superuser,
    # referrer (who hears nothing live: they follow their referrals' statuses on the page)
    "X created":     "- yes no no  no  no yes no  no  no",
    "X proposed":    "- yes no yes no  no yes no  no  no",
    "X accepted":    "- yes no yes no  no yes no  no  no",
    "X unassigned":  "- yes no yes no  no yes no  no  no",
    "Y created":     "- no  no no  no  no yes no  no  no",
    "Y cancelled":   "- no  no no  no  no yes no  no  no",
    "Z created":     "- no  no no  no  no no  yes no  no",
}
# fmt: on


@pytest.fixture
def isolated_channel_layer(settings):
    # Our own prefix on a shared Redis: parallel runs never hear each other's person-1.
    import copy
    import uuid

    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "hosts" in layers["default"].get("CONFIG", {}):  # Redis (the in-memory layer has no prefix)
        layers["default"]["CONFIG"]["prefix"] = f"matrix-{uuid.uuid4().hex}"
    settings.CHANNEL_LAYERS = layers


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow  # over 2 s: left out of the edit-test loop
async def test_each_persona_hears_exactly_the_changes_it_is_entitled_to(
    world, no_rate_limits, isolated_channel_layer, capsys
):
    people = world.people
    sockets = {}
    for persona in PERSONAS:
        communicator, connected = await open_socket(people[persona])
        assert connected == (persona != "anonymous"), persona
        sockets[persona] = communicator
    for persona in PERSONAS[1:]:
        assert await events_heard(sockets[persona]) == [], f"{persona} heard the set-up"

    def create_x():
        return post_request(people["owner"], world.leuven, world.shopping)

    x = await sync_to_async(create_x)()
    assignment = await sync_to_async(
        lambda: services.assignment_propose(help_request=x, volunteer=people["volunteer_proposed"], km=0.5)
    )()
    # Everyone tries to accept X over the socket: only the volunteer it was proposed to may.
    results, early = {}, {persona: [] for persona in PERSONAS}
    for persona in PERSONAS[1:]:
        await sockets[persona].send_json_to({"action": "accept", "assignment": assignment.pk})
        while True:
            message = await sockets[persona].receive_json_from(timeout=5)
            if message["type"] == "action.result":
                results[persona] = message["ok"]
                break
            # A task.changed may arrive first: keep it for the count below.
            early[persona].append((message["request"], message["change"]))
    assert results == {persona: persona == "volunteer_proposed" for persona in PERSONAS[1:]}

    def unassign_x():
        services.assignment_unassign(assignment=assignment, coordinator=people["coordinator"], reason="ill")

    await sync_to_async(unassign_x)()

    def phoned_in_y_then_cancelled():
        y = services.help_request_create(
            community=world.leuven,
            requester=None,
            created_by=people["coordinator"],
            category=world.shopping,
            description="Bread",
            urgency=2,
            location=TIENSESTRAAT,
            any_time=True,
            contact_name="Mr Y",
            contact_phone="016 99 88 77",
        )
        services.help_request_cancel(help_request=y, actor=people["coordinator"], reason="duplicate")
        return y

    y = await sync_to_async(phoned_in_y_then_cancelled)()

    def herent_z():
        herent_citizen = User.objects.get(username="herent-citizen")
        return post_request(
            herent_citizen,
            herent_citizen.community,
            herent_citizen.community.categories.get(),
            location=HERENT,
        )

    z = await sync_to_async(herent_z)()

    ids = {"X": x.pk, "Y": y.pk, "Z": z.pk}
    problems, cells = [], 0
    for persona in PERSONAS[1:]:
        heard = early[persona] + await events_heard(sockets[persona])
        expected = []
        for change, row in SOCKET_MATRIX.items():
            request, what = change.split()
            entitled = row.split()[PERSONAS.index(persona)] == "yes"
            cells += 1
            if entitled:
                expected.append((ids[request], what))
        if sorted(heard) != sorted(expected):
            problems.append(f"{persona} heard {sorted(heard)}, expected {sorted(expected)}")
    cells += len(results) + 1  # the accept attempts and the anonymous refusal
    for communicator in sockets.values():
        await communicator.disconnect()
    with capsys.disabled():
        print(f"\naccess matrix (socket): {cells} cells probed")
    assert not problems, "\n".join(problems)
