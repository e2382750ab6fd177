"""Where text messages leave: a gateway with one method, `send(to, body)`.

`SMS_BACKEND=console` prints them (development); `twilio` posts them to Twilio's Messages
API at `SMS_API_BASE_URL` (many providers and proxies speak the same API).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


class TextNotSent(Exception):
    """The provider did not take the message; worth trying again later."""


class TextRefused(TextNotSent):
    """The provider refused the message for good (a number that cannot get texts, bad
    credentials): trying again would fail the same way."""


@dataclass(frozen=True)
class SentText:
    provider_id: str
    status: str


class SmsGateway(Protocol):
    def send(self, *, to: str, body: str) -> SentText: ...


class ConsoleGateway:
    """Prints each text to the log: for development and the demo."""

    def __init__(self) -> None:
        self.count = 0

    def send(self, *, to: str, body: str) -> SentText:
        self.count += 1
        logger.info("Text message to %s: %s", to, body)
        return SentText(provider_id=f"console-{self.count}", status="sent")


class TwilioGateway:
    """Twilio's Messages API over plain HTTP: POST a form, basic auth, a JSON answer."""

    def __init__(
        self, *, account_sid: str, auth_token: str, from_number: str, base_url: str, status_callback: str = ""
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.base_url = base_url.rstrip("/")
        self.status_callback = status_callback

    def send(self, *, to: str, body: str) -> SentText:
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        form = {"To": to, "From": self.from_number, "Body": body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = requests.post(
                url, data=form, auth=(self.account_sid, self.auth_token), timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            raise TextNotSent(f"no answer from the text provider: {error}") from error
        if response.status_code in (200, 201):
            answer = response.json()
            return SentText(provider_id=str(answer.get("sid", "")), status=str(answer.get("status", "")))
        reason = _error_text(response)
        # Too many requests and the provider's own faults pass; anything else is our message.
        if response.status_code == 429 or response.status_code >= 500:
            raise TextNotSent(reason)
        raise TextRefused(reason)


def _error_text(response: requests.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}, error {answer.get('code', '?')}: {answer.get('message', '')}"


_console = ConsoleGateway()


def gateway() -> SmsGateway:
    """The gateway `SMS_BACKEND` names."""
    if settings.SMS_BACKEND == "twilio":
        return TwilioGateway(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            from_number=settings.TWILIO_FROM_NUMBER,
            base_url=settings.SMS_API_BASE_URL,
            status_callback=f"{settings.SITE_URL}/sms/status/",
        )
    return _console
