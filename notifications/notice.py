"""A notice: one person to tell about one change. The dispatcher decides who is told
(`notifications.dispatch`); each channel decides whether and how it carries a notice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from notifications.kinds import ChangeKind


@dataclass(frozen=True)
class Notice:
    kind: ChangeKind
    help_request: Any  # mutualaid.aid.models.HelpRequest
    # None: the caller of a phoned-in request, who has no account (a text to contact_phone).
    recipient: Any = None
    # The proposal a volunteer is asked to answer.
    assignment: Any = None
    # Who is coming, for the requester.
    volunteer: Any = None
    # A reminder's time window (mutualaid.aid.models.TimeWindow).
    window: Any = None
    # The recipient referred the request for a neighbour (partners.Referral): they hear
    # where it stands, never who the volunteer is.
    to_referrer: bool = False
    # The recipient coordinates the request's community (a link to the coordinators' page).
    to_coordinator: bool = False

    def attach(self, message):
        """The request a message is about (coordinators see per request what was sent) and
        the community whose text limit and time zone apply."""
        message.help_request = self.help_request
        message.community_id = self.help_request.community_id
        return message

    @property
    def language(self) -> str:
        if self.recipient is not None:
            return self.recipient.preferred_language
        # A caller: the language the helper must speak, else the coordinator's who took the call.
        # (only a language the service speaks).
        if self.help_request.language_needed in dict(settings.LANGUAGES):
            return self.help_request.language_needed
        filed_by = self.help_request.created_by
        return filed_by.preferred_language if filed_by else settings.LANGUAGE_CODE
