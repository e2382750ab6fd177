"""The live-update socket: each signed-in person hears about their own tasks only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import weakref
from collections import Counter
from importlib import import_module
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from mutualaid.accounts.models import User
from mutualaid.accounts.sessions import (
    ACTIVITY_RESOLUTION_SECONDS,
    has_short_sessions,
    record_activity,
    session_has_expired,
)
from mutualaid.accounts.two_factor import session_is_verified, two_factor_is_required
from mutualaid.aid import selectors, services
from mutualaid.aid.states import InvalidTransition
from mutualaid.limits import person_is_limited, too_many_message
from mutualaid.operations.metrics import WEBSOCKETS_ACCEPTED, WEBSOCKETS_OPEN
from notifications.events import EVENT_TYPES, community_group, event_text, person_group

ACTIONS = {"accept", "decline"}
# Too many open sockets of one person: static/js/live.js then waits a minute before trying
# again, rather than reconnecting at once as after any other close.
TOO_MANY_SOCKETS = 4429

logger = logging.getLogger(__name__)

# Open sockets per person in this process (a daphne's event loop: no lock needed).
open_sockets_by_person: Counter[int] = Counter()
# The open sockets of this process, for the watch on the channel layer below.
open_consumers: weakref.WeakSet[TaskUpdatesConsumer] = weakref.WeakSet()
# Close codes a consumer may send are 1000 or 3000-4999 (autobahn, under daphne, refuses
# RFC 6455's 1011/1012 from an application): "join again", as after a restart, and "the
# channel layer failed". live.js connects again after either, as after any close but 4429.
JOIN_AGAIN = 4012
LAYER_FAILED = 4011


class LayerDataWatch:
    """Every few seconds, whether the channel layer's Redis lost its data (a restart without
    persistence): the open sockets' group memberships went with it, so they would hear
    nothing until their next renewal, minutes later, while looking alive. Then the sockets of
    this daphne no longer in their group are closed with 4012 (join again); live.js connects
    again at once (spread over a second or so), joins afresh and fetches what it missed.

    One per daphne process, started by its first socket; only for layers that can tell
    (`data_epoch`: notifications/layers.py's Redis layer)."""

    # One per event loop (a daphne has one; tests run several, one after the other).
    tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = weakref.WeakKeyDictionary()

    @classmethod
    def start(cls, layer) -> None:
        if settings.LIVE_LAYER_CHECK_SECONDS <= 0 or not hasattr(layer, "data_epoch"):
            return
        loop = asyncio.get_running_loop()
        if loop not in cls.tasks or cls.tasks[loop].done():
            cls.tasks[loop] = loop.create_task(cls.watch(layer))

    @staticmethod
    async def close_the_deaf(layer) -> None:
        """Close the sockets no longer in their group (those that joined the new data are)."""
        consumers = {consumer.channel_name: consumer for consumer in list(open_consumers)}
        memberships = [(consumer.joined_groups[0], name) for name, consumer in consumers.items()]
        try:
            deaf = await layer.not_members(memberships)
        except Exception:
            deaf = set(consumers)  # cannot tell: joining again is safe, deafness is not
        logger.warning(
            "The channel layer lost its groups (Redis restarted?): %s of %s sockets closed to join again",
            len(deaf),
            len(consumers),
        )
        closing = [consumers[name].close(code=JOIN_AGAIN) for name in deaf if name in consumers]
        await asyncio.gather(*closing, return_exceptions=True)

    @staticmethod
    async def watch(layer) -> None:
        known = None
        while True:
            try:
                epoch = await layer.data_epoch()
            except Exception:
                epoch = None  # Redis away: the sockets' own renewals close them if it stays away
            if epoch is not None:
                if known is not None and epoch != known:
                    await LayerDataWatch.close_the_deaf(layer)
                known = epoch
            await asyncio.sleep(settings.LIVE_LAYER_CHECK_SECONDS)


class TaskUpdatesConsumer(AsyncWebsocketConsumer):
    """Joins the person's own group, plus their community's if they coordinate it.

    Events only say which request changed; the page then fetches what its reader may see.
    A volunteer may also accept or decline over the socket: every message is authorised
    again, through the same services as the pages.

    Asynchronous so that an event costs no thread: a synchronous consumer handles every
    message in the one thread Channels keeps for database work, two thread hops per event,
    and a burst of events to many sockets queued there one after the other. Socket actions
    still run their database work in that thread (`database_sync_to_async`).
    """

    # A coordinator's session is checked (and the socket noted as activity) at most this often.
    session_check_seconds = ACTIVITY_RESOLUTION_SECONDS

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        # One trip to the database thread: after a restart every page reconnects at once,
        # and the handshakes queue there one behind the other.
        session_lasts, community_id = await database_sync_to_async(self.what_to_follow)(user)
        if not session_lasts:
            await self.close(code=4401)
            return
        if open_sockets_by_person[user.pk] >= settings.LIVE_SOCKETS_PER_PERSON:
            # Accepted to be closed: a refused handshake reaches the page as a bare 1006.
            await self.accept()
            await self.close(code=TOO_MANY_SOCKETS)
            return
        open_sockets_by_person[user.pk] += 1
        self.counted_person = user.pk
        self.joined_groups = [person_group(user.pk)]
        try:
            if community_id is not None:
                self.joined_groups.append(community_group(community_id))
            for group in self.joined_groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except BaseException:
            await self.disconnect(1011)  # no disconnect follows a connect that failed
            raise
        await self.accept()
        self.counted_open = True
        WEBSOCKETS_OPEN.inc()
        WEBSOCKETS_ACCEPTED.inc()
        open_consumers.add(self)
        LayerDataWatch.start(self.channel_layer)
        self.stop_renewing = asyncio.Event()
        self.renewing = asyncio.ensure_future(self.renew_memberships())

    async def renew_memberships(self) -> None:
        """Join the groups again every third of the layer's group expiry, so that an open
        socket stays a member while those of a daphne that died expire (in minutes, not a
        day: nothing sends them to dead channels for long).

        Stopped by `stop_renewing`, never cancelled halfway: a cancelled join may still
        reach Redis after the leave that follows it, and leave a member behind."""
        interval = self.channel_layer.group_expiry / 3
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_renewing.wait(), interval)
                if self.stop_renewing.is_set():
                    return
                for group in self.joined_groups:
                    await self.channel_layer.group_add(group, self.channel_name)
                if has_short_sessions(self.scope["user"]) and not await self.short_session_checked():
                    await self.close(code=4401)
                    return
        except Exception:
            # The layer is gone (Redis down): close, so the page reconnects and catches up.
            logger.warning("Could not renew a socket's groups: closing it", exc_info=True)
            await self.close(code=LAYER_FAILED)

    def what_to_follow(self, user: User) -> tuple[bool, int | None]:
        """Whether a coordinator's or staff member's short session still lasts (always for
        others), and the community whose dashboard this socket follows."""
        session = self.scope.get("session")
        if two_factor_is_required(user, session) and not session_is_verified(session, user):
            return False, None  # half-way through signing in: no live data before the code
        if has_short_sessions(user):
            self.session_checked_at = time.monotonic()
            if not self.short_session_lasts():
                return False, None
        return True, self.dashboard_community_id(user)

    async def short_session_checked(self) -> bool:
        """`short_session_lasts`, asked at most once per activity resolution (a minute):
        renewals may come every few seconds, and each would be a trip to the database."""
        now = time.monotonic()
        if now - getattr(self, "session_checked_at", -math.inf) < self.session_check_seconds:
            return True
        self.session_checked_at = now
        return await database_sync_to_async(self.short_session_lasts)()

    def short_session_lasts(self) -> bool:
        """A coordinator's or staff member's session: whether it is still within its limits
        (mutualaid/accounts/sessions.py), recording the open socket as activity; one that
        ended is deleted, so the pages sign them out too."""
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if not session_key:
            return False
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        if SESSION_KEY not in session:
            return False  # signed out meanwhile
        if session_has_expired(session):
            session.delete()
            return False
        record_activity(session)
        if session.modified:
            session.save()
        return True

    def dashboard_community_id(self, user: User) -> int | None:
        """The community whose dashboard this socket follows, if any.

        A coordinator's own; a superuser's is the one the dashboard page shows, named by
        `?community=<slug>` (any other person's query string is ignored). The dashboard
        always names its community, so a superuser's dashboard without a slug (the first
        community) is followed too.
        """
        if user.is_superuser:
            slug = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("community", [""])[0]
            if not slug:
                return None  # not on a dashboard: nothing of a community to follow
            try:
                return selectors.community_for_coordinator(user, slug).pk
            except Http404:
                return None
        if user.is_coordinator and user.community_id:
            return user.community_id
        return None

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when daphne kills a consumer that did not close in time (cancelled while
            # waiting for the database thread, its disconnect never run): a count left behind
            # would refuse that person's sockets on this daphne until it restarts.
            self.uncount()

    def uncount(self) -> None:
        open_consumers.discard(self)
        person = getattr(self, "counted_person", None)
        if person is not None:
            self.counted_person = None
            open_sockets_by_person[person] -= 1
            if open_sockets_by_person[person] <= 0:
                del open_sockets_by_person[person]
        if getattr(self, "counted_open", False):
            self.counted_open = False
            WEBSOCKETS_OPEN.dec()

    async def disconnect(self, code: int) -> None:
        self.uncount()  # first: nothing below may keep a closed socket counted
        renewing = getattr(self, "renewing", None)
        if renewing is not None:
            self.stop_renewing.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(renewing, timeout=30)  # a join under way ends first
        for group in getattr(self, "joined_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def dispatch(self, message: dict) -> None:
        # An event touches no database: skip the thread hop that AsyncConsumer.dispatch
        # makes before every handler to close stale database connections.
        if message.get("type") in EVENT_TYPES:
            await self.send(text_data=event_text(message))
        elif message.get("type") == "websocket.disconnect":
            # Nor before leaving the groups: when many sockets close at once (a daphne
            # stopping), queueing in the database thread made some wait past daphne's
            # close timeout, and they were killed before leaving their groups.
            await self.websocket_disconnect(message)
        else:
            await super().dispatch(message)

    async def sockets_close(self, event: dict) -> None:
        await self.close(code=4401)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if len(text_data or bytes_data or "") > settings.LIVE_SOCKET_MESSAGE_MAX_CHARACTERS:
            # Unread: a valid action is a few dozen characters (daphne closes past 64 KiB).
            with translation.override(self.scope["user"].preferred_language):
                answer = self.answer(False, _("The message is too long."))
            await self.send(text_data=json.dumps(answer))
            return
        answer, close_code = await database_sync_to_async(self.act_in_their_language)(text_data)
        await self.send(text_data=json.dumps(answer))
        if close_code is not None:
            await self.close(code=close_code)

    def act_in_their_language(self, text_data: str | None) -> tuple[dict, int | None]:
        # No LocaleMiddleware on a socket: answers follow the language the person chose.
        with translation.override(self.scope["user"].preferred_language):
            return self.act(text_data)

    def act(self, text_data: str | None) -> tuple[dict, int | None]:
        """Rate-limit, parse, authorise and carry out one socket message (database work:
        runs in a thread). Returns the answer, and a close code when the socket must close."""
        if person_is_limited(self.scope["user"].pk, "socket_message"):
            return self.answer(False, too_many_message()), None
        try:
            content = json.loads(text_data or "")
        except (TypeError, ValueError, RecursionError):  # RecursionError: nested too deep
            return self.answer(False, _("The message is not valid JSON.")), None
        action = content.get("action") if isinstance(content, dict) else None
        if not isinstance(action, str) or action not in ACTIONS:
            return self.answer(False, _("Unknown action: send accept or decline.")), None
        assignment_id, reason = content.get("assignment"), content.get("reason", "")
        if (
            not isinstance(assignment_id, int)
            or isinstance(assignment_id, bool)
            or not isinstance(reason, str)
            or "\x00" in reason  # as the forms refuse it (PostgreSQL cannot store it)
        ):
            return self.answer(False, _("Give the assignment as a number and the reason as text.")), None
        # The person may have logged out, changed their password or been deactivated since
        # they connected: ask the database whether this socket's session still signs them in.
        if not User.objects.filter(pk=self.scope["user"].pk, is_active=True).exists():
            return self.answer(False, _("Your account is not active.")), 4403
        volunteer = self.signed_in_person()
        if volunteer is None:
            return self.answer(False, _("Your session has ended: please log in again.")), 4401
        try:
            assignment = selectors.assignment_for_volunteer(volunteer, assignment_id)
            if action == "accept":
                services.assignment_accept(assignment=assignment, volunteer=volunteer)
            else:
                services.assignment_decline(assignment=assignment, volunteer=volunteer, reason=reason[:255])
        except (Http404, PermissionDenied):
            return self.answer(False, _("There is no such task in your inbox."), action, assignment_id), None
        except (services.TaskActionError, InvalidTransition) as error:
            return self.answer(False, str(error), action, assignment_id), None
        return self.answer(True, "", action, assignment_id), None

    def signed_in_person(self) -> User | None:
        """The person this socket's session signs in now, read afresh from the session store;
        None once the session ended (logout), or no longer verifies (a password change), or
        names someone else. As Django's `get_user`, without changing the session."""
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if not session_key:
            return None
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        try:
            user_id = User._meta.pk.to_python(session[SESSION_KEY])
            backend_path = session[BACKEND_SESSION_KEY]
        except (KeyError, ValueError):
            return None
        if user_id != self.scope["user"].pk or backend_path not in settings.AUTHENTICATION_BACKENDS:
            return None
        person = load_backend(backend_path).get_user(user_id)  # None if deactivated
        session_hash = session.get(HASH_SESSION_KEY) or ""
        if person is None or not session_hash:
            return None
        hashes = [person.get_session_auth_hash(), *person.get_session_auth_fallback_hash()]
        if not any(constant_time_compare(session_hash, known) for known in hashes):
            return None
        return person

    @staticmethod
    def answer(ok: bool, message: str, action: str | None = None, assignment: int | None = None) -> dict:
        return {
            "type": "action.result",
            "ok": ok,
            "message": message,
            "action": action,
            "assignment": assignment,
        }
