"""Twilio's webhooks: texts received and the delivery status of texts sent. Both are
signed with the auth token; an unsigned or wrongly signed request changes nothing (403)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mutualaid.aid.services.texts import text_received
from notifications.models import OutgoingMessage
from notifications.twilio_signature import is_valid

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _signed(request: HttpRequest) -> bool:
    """Checked over the public address Twilio called (SITE_URL), not the one behind nginx."""
    url = settings.SITE_URL + request.get_full_path()
    return is_valid(
        settings.TWILIO_AUTH_TOKEN,
        url,
        {name: request.POST.getlist(name) for name in request.POST},
        request.headers.get("X-Twilio-Signature", ""),
    )


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("Bad signature")
    # The answer goes out through the outbox (retried, capped, recorded), not in this reply.
    text_received(from_number=request.POST.get("From", ""), body=request.POST.get("Body", ""))
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("Bad signature")
    provider_id = request.POST.get("MessageSid", "")
    status = request.POST.get("MessageStatus", "")[:32]
    if provider_id and status:
        OutgoingMessage.objects.filter(provider_id=provider_id, channel=OutgoingMessage.Channel.SMS).update(
            delivery_status=status
        )
    return HttpResponse(status=204)
