"""A city's identity: its coordinators set the service's name, logo, colour and help-line
hours; every page and e-mail shows them; colours that would make text unreadable are refused."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from mutualaid.aid import services
from mutualaid.aid.identity import contrast_ratio
from mutualaid.aid.models import AuditEntry, Community, HelpLineDays
from notifications.outbox import send_pending_messages
from tests.conftest import PASSWORD, sign_in

IDENTITY_URL = reverse("coordinator-identity")
LEUVEN_HELPT = {
    "service_name": "Leuven Helpt",
    "accent_colour": "#7a1f5c",
    "contact_phone": "016 27 20 00",
    "help_line_days": "weekdays",
    "help_line_opens": "09:00",
    "help_line_closes": "17:00",
}


def png(width: int = 64, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#7a1f5c").save(buffer, format="PNG")
    return buffer.getvalue()


def set_identity(community: Community, **values) -> Community:
    Community.objects.filter(pk=community.pk).update(**values)
    community.refresh_from_db()
    return community


def test_contrast_is_computed_as_wcag_defines_it():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the usual grey at 4.5:1


def test_a_coordinator_sets_the_look_and_every_page_shows_it(client, coordinator, citizen, community):
    sign_in(client, coordinator)
    response = client.post(IDENTITY_URL, LEUVEN_HELPT)
    assert response.status_code == 302

    sign_in(client, citizen)
    page = client.get(reverse("my-requests")).content.decode()
    assert "Leuven Helpt</a>" in page
    assert "· Leuven Helpt</title>" in page
    assert "It answers Monday to Friday, 09:00\u201317:00." in page
    assert 'href="tel:016272000"' in page
    community.refresh_from_db()
    colours_url = f"/communities/leuven/colours.css?v={int(community.identity_changed_at.timestamp())}"
    assert f'<link rel="stylesheet" href="{colours_url}">' in page
    colours = client.get(colours_url)
    assert colours["Content-Type"].startswith("text/css")
    assert colours.content.decode() == ":root { --accent: #7a1f5c; }\n"
    assert "immutable" in colours["Cache-Control"]


def test_the_change_is_audited_with_what_was_there_before(client, coordinator, community):
    sign_in(client, coordinator)
    client.post(IDENTITY_URL, LEUVEN_HELPT)

    entry = AuditEntry.objects.get(action="community.identity_changed")
    assert entry.actor == coordinator and entry.community_id == community.pk
    assert entry.before["service_name"] == "" and entry.after["service_name"] == "Leuven Helpt"
    assert entry.before["accent_colour"] == "#0b5394" and entry.after["help_line_opens"] == "09:00:00"
    assert "logo" not in entry.after  # unchanged fields are not listed


def test_the_default_colour_costs_no_extra_request(client, citizen):
    sign_in(client, citizen)
    assert "colours.css" not in client.get(reverse("my-requests")).content.decode()


@pytest.mark.parametrize(
    ("colour", "message"),
    [
        ("#ffcc00", "White text on this colour has a contrast of 1.5:1; it needs at least 4.5:1"),
        ("#0b53", "Write the colour as # and six hexadecimal digits"),
        ("blue", "Write the colour as # and six hexadecimal digits"),
    ],
)
def test_an_unreadable_or_malformed_colour_is_refused_next_to_the_field_and_nothing_is_saved(
    client, coordinator, community, colour, message
):
    sign_in(client, coordinator)
    response = client.post(IDENTITY_URL, {**LEUVEN_HELPT, "accent_colour": colour})

    assert response.status_code == 200
    assert message in str(response.context["form"].errors["accent_colour"])
    community.refresh_from_db()
    assert community.service_name == "" and community.accent_colour == "#0b5394"
    assert not AuditEntry.objects.filter(action="community.identity_changed").exists()


def test_help_line_hours_are_all_or_nothing_and_close_after_they_open(client, coordinator):
    sign_in(client, coordinator)
    partial = client.post(IDENTITY_URL, {**LEUVEN_HELPT, "help_line_closes": ""})
    assert "Give the days, the opening and the closing time" in str(partial.context["form"].errors)

    backwards = client.post(IDENTITY_URL, {**LEUVEN_HELPT, "help_line_opens": "18:00"})
    assert "must close after it opens" in str(backwards.context["form"].errors["help_line_closes"])


def test_a_logo_is_checked_stored_served_and_shown_in_the_header(client, coordinator, citizen, community):
    sign_in(client, coordinator)
    logo = SimpleUploadedFile("logo.png", png(), content_type="image/png")
    assert client.post(IDENTITY_URL, {**LEUVEN_HELPT, "logo_file": logo}).status_code == 302

    community.refresh_from_db()
    logo_url = f"/communities/leuven/logo?v={int(community.identity_changed_at.timestamp())}"
    sign_in(client, citizen)
    assert f'<img src="{logo_url}" alt="" height="32">Leuven Helpt</a>' in client.get("/").content.decode()
    served = client.get(logo_url)
    assert served["Content-Type"] == "image/png" and served.content == png()

    sign_in(client, coordinator)
    assert client.post(IDENTITY_URL, {**LEUVEN_HELPT, "remove_logo": "on"}).status_code == 302
    assert client.get(reverse("community-logo", args=["leuven"])).status_code == 404


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"<svg onload='alert(1)'/>", "This file is not an image we can show"),
        (b"GIF89a" + png()[6:], "This file is not an image we can show"),
        (png(2000, 10), "The logo is 2000 \u00d7 10 pixels; at most 1200 pixels"),
        (b"\x89PNG" + bytes(300 * 1024), "The logo is 301 KB; at most 200 KB"),
    ],
    ids=["script", "not-an-image", "too-wide", "too-heavy"],
)
def test_a_logo_that_is_no_safe_small_image_is_refused_and_the_old_one_kept(
    client, coordinator, community, upload, message
):
    set_identity(community, logo=png(), logo_content_type="image/png")
    sign_in(client, coordinator)
    response = client.post(
        IDENTITY_URL, {**LEUVEN_HELPT, "logo_file": SimpleUploadedFile("logo.png", upload)}
    )

    assert response.status_code == 200
    assert message in str(response.context["form"].errors["logo_file"])
    community.refresh_from_db()
    assert bytes(community.logo) == png() and community.service_name == ""


def test_coordinators_set_only_their_own_communitys_look(
    client, outsider_coordinator, community, other_community
):
    sign_in(client, outsider_coordinator)
    client.post(f"{IDENTITY_URL}?community=leuven", LEUVEN_HELPT)

    community.refresh_from_db()
    other_community.refresh_from_db()
    assert community.service_name == ""
    assert other_community.service_name == "Leuven Helpt"  # their own, whatever the address said


def test_a_visitor_sees_the_only_community_and_nothing_of_one_when_there_are_several(client, community):
    set_identity(community, service_name="Leuven Helpt")
    assert "Leuven Helpt</a>" in client.get("/").content.decode()

    Community.objects.create(name="Herent", slug="herent", latitude=50.9, longitude=4.67)
    page = client.get("/").content.decode()
    assert "Leuven Helpt" not in page and "Mutual aid</a>" in page


def test_every_email_is_signed_with_the_service_and_its_help_line_in_the_readers_language(
    help_request, volunteer, community
):
    set_identity(
        community,
        service_name="Leuven Helpt",
        contact_phone="016 27 20 00",
        help_line_days=HelpLineDays.WEEKDAYS,
        help_line_opens=dt.time(9),
        help_line_closes=dt.time(17),
    )
    volunteer.email, volunteer.preferred_language = "jan@example.org", "nl"
    volunteer.save()
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    send_pending_messages()

    (message,) = [m for m in mail.outbox if m.to == ["jan@example.org"]]
    assert message.body.rstrip().endswith(
        "-- \nLeuven Helpt\nHulplijn: 016 27 20 00 (maandag tot vrijdag, 09:00\u201317:00)"
    )


def test_a_coordinators_message_is_signed_too(client, coordinator, volunteer, community, shopping):
    set_identity(community, service_name="Leuven Helpt", contact_phone="016 27 20 00")
    volunteer.email, volunteer.preferred_language = "jan@example.org", "en"
    volunteer.save()
    sign_in(client, coordinator)
    client.post(
        reverse("coordinator-messages"),
        {"subject": "Thank you", "body": "Thanks for helping.", "volunteer": volunteer.pk},
    )
    send_pending_messages()

    (message,) = mail.outbox
    assert message.body == "Thanks for helping.\n\n-- \nLeuven Helpt\nHelp line: 016 27 20 00\n"


def test_the_password_reset_mail_is_the_services_own(client, citizen, community, settings):
    settings.SITE_URL = "https://leuven.example.org"
    set_identity(community, service_name="Leuven Helpt", contact_phone="016 27 20 00")
    citizen.email, citizen.preferred_language = "maria@example.org", "en"
    citizen.save()

    client.post(reverse("password_reset"), {"email": "maria@example.org"})

    (message,) = mail.outbox
    assert message.subject == "Choose a new password"
    assert "Thanks for using our site" not in message.body and "testserver" not in message.body
    assert "https://leuven.example.org/accounts/reset/" in message.body
    assert "Your user name is citizen." in message.body
    assert message.body.rstrip().endswith("-- \nLeuven Helpt\nHelp line: 016 27 20 00")
    # The link it gives works.
    link = next(line for line in message.body.splitlines() if "/accounts/reset/" in line)
    path = link.removeprefix("https://leuven.example.org")
    assert client.get(path, follow=True).context["validlink"]
    assert client.login(username="citizen", password=PASSWORD)
