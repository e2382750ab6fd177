"""The live-update socket: each signed-in person hears about their own tasks only."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from mutualaid.accounts.models import User
from mutualaid.aid import selectors, services
from mutualaid.aid.states import InvalidTransition
from mutualaid.limits import person_is_limited, too_many_message
from notifications.events import TASK_CHANGED, community_group, person_group

ACTIONS = {"accept", "decline"}


class TaskUpdatesConsumer(JsonWebsocketConsumer):
    """Joins the person's own group, plus their community's if they coordinate it.

    Events only say which request changed; the page then fetches what its reader may see.
    A volunteer may also accept or decline over the socket: every message is authorised
    again, through the same services as the pages.
    """

    def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            self.close(code=4401)
            return
        self.joined_groups = [person_group(user.pk)]
        if user.is_coordinator and user.community_id:
            self.joined_groups.append(community_group(user.community_id))
        for group in self.joined_groups:
            async_to_sync(self.channel_layer.group_add)(group, self.channel_name)
        self.accept()

    def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined_groups", []):
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def task_changed(self, event: dict) -> None:
        self.send_json(
            {
                "type": TASK_CHANGED,
                "request": event["request"],
                "status": event["status"],
                "change": event["change"],
            }
        )

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if person_is_limited(self.scope["user"].pk, "socket_message"):
            self.reply(False, too_many_message())
            return
        try:
            content = json.loads(text_data or "")
        except (TypeError, ValueError):
            self.reply(False, _("The message is not valid JSON."))
            return
        self.receive_json(content)

    def receive_json(self, content, **kwargs) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if not isinstance(action, str) or action not in ACTIONS:
            self.reply(False, _("Unknown action: send accept or decline."))
            return
        assignment_id, reason = content.get("assignment"), content.get("reason", "")
        if (
            not isinstance(assignment_id, int)
            or isinstance(assignment_id, bool)
            or not isinstance(reason, str)
            or "\x00" in reason  # as the forms refuse it (PostgreSQL cannot store it)
        ):
            self.reply(False, _("Give the assignment as a number and the reason as text."))
            return
        # The person may have been deactivated since they connected: ask the database.
        volunteer = User.objects.filter(pk=self.scope["user"].pk, is_active=True).first()
        if volunteer is None:
            self.reply(False, _("Your account is not active."))
            self.close(code=4403)
            return
        try:
            assignment = selectors.assignment_for_volunteer(volunteer, assignment_id)
            if content["action"] == "accept":
                services.assignment_accept(assignment=assignment, volunteer=volunteer)
            else:
                services.assignment_decline(assignment=assignment, volunteer=volunteer, reason=reason[:255])
        except (Http404, PermissionDenied):
            self.reply(False, _("There is no such task in your inbox."), content["action"], assignment_id)
        except (services.TaskActionError, InvalidTransition) as error:
            self.reply(False, str(error), content["action"], assignment_id)
        else:
            self.reply(True, "", content["action"], assignment_id)

    def reply(self, ok: bool, message: str, action: str | None = None, assignment: int | None = None) -> None:
        self.send_json(
            {
                "type": "action.result",
                "ok": ok,
                "message": message,
                "action": action,
                "assignment": assignment,
            }
        )
