"""The live-update socket: each signed-in person hears about their own tasks only."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer

from notifications.events import TASK_CHANGED, community_group, person_group


class TaskUpdatesConsumer(JsonWebsocketConsumer):
    """Joins the person's own group, plus their community's if they coordinate it.

    Events only say which request changed; the page then fetches what its reader may see.
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
