"""Two-factor sign-in: who is held at the second step, enrolment, codes, recovery codes,
a coordinator's reset of a lost phone, and the limit on guessing codes."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mutualaid.accounts import two_factor
from mutualaid.aid.models import AuditEntry
from mutualaid.partners import referrals
from tests.conftest import PASSWORD, enrol, make_user, one_time_code, sign_in
from tests.notifications.test_consumers import connect, cookie_of
from tests.partners.test_referrers import join

ROOT = Path(__file__).resolve().parents[2]


def password_only(user) -> Client:
    """A session that gave the password (the login form) but no code yet."""
    client = Client()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def enrolment_secret(page: str) -> bytes:
    """The key as the enrolment page shows it to be typed, decoded as an app would."""
    text = re.search(r'<code id="secret-key">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    return base64.b32decode(text + "=" * (-len(text) % 8))


def code_for(key: bytes) -> str:
    return f"{TOTP(key).token():06d}"


def enrol_through_the_page(client: Client) -> list[str]:
    """Scan the page's secret, confirm it with the app's code; the recovery codes shown."""
    page = client.get(reverse("two-factor-enrol")).content.decode()
    response = client.post(reverse("two-factor-enrol"), {"otp_token": code_for(enrolment_secret(page))})
    assert response.status_code == 302 and response.url.startswith(reverse("two-factor-recovery-codes"))
    page = client.get(response.url).content.decode()
    return re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)


@pytest.fixture
def referrer_user(community, coordinator):
    organisation = referrals.organisation_register(
        community=community, name="Huisartsen", coordinator=coordinator
    )
    return join(organisation, coordinator, email="ann@example.org")


def test_a_coordinator_without_an_authenticator_is_sent_to_enrolment_after_the_password(coordinator):
    client = password_only(coordinator)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url == reverse("two-factor-enrol") + "?next=%2Fcoordinator%2F"


def test_the_enrolment_page_shows_the_qr_code_the_key_as_text_and_a_one_time_code_field(coordinator):
    client = password_only(coordinator)
    page = client.get(reverse("two-factor-enrol")).content.decode()
    assert "<svg" in page and "otpauth://totp/" in page
    assert len(enrolment_secret(page)) == 20
    field = re.search(r"<input[^>]*name=\"otp_token\"[^>]*>", page).group(0)
    assert 'autocomplete="one-time-code"' in field and 'inputmode="numeric"' in field
    # Reloading keeps the secret already scanned.
    assert enrolment_secret(client.get(reverse("two-factor-enrol")).content.decode()) == enrolment_secret(
        page
    )


def test_enrolling_shows_ten_recovery_codes_once_and_opens_the_pages(coordinator):
    client = password_only(coordinator)
    codes = enrol_through_the_page(client)
    assert len(set(codes)) == 10
    assert client.get(reverse("dashboard")).status_code == 200
    again = client.get(reverse("two-factor-recovery-codes")).content.decode()
    assert not any(code in again for code in codes) and "10 recovery codes left" in again
    assert AuditEntry.objects.filter(action="two_factor_enrolled", actor=coordinator).exists()


def test_an_enrolled_coordinator_gives_the_code_before_any_page_then_goes_where_they_were_going(coordinator):
    enrol(coordinator)
    client = password_only(coordinator)
    response = client.get(reverse("dashboard"))
    assert response.url == reverse("two-factor-verify") + "?next=%2Fcoordinator%2F"
    response = client.post(response.url, {"otp_token": one_time_code(coordinator), "next": "/coordinator/"})
    assert response.status_code == 302 and response.url == "/coordinator/"
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_wrong_code_is_refused_with_a_message_next_to_the_field_and_audited(coordinator, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    enrol(coordinator)
    client = password_only(coordinator)
    wrong = f"{(int(one_time_code(coordinator)) + 1) % 1_000_000:06d}"
    response = client.post(reverse("two-factor-verify"), {"otp_token": wrong})
    assert response.status_code == 400
    page = response.content.decode()
    field_group = page[page.index('for="id_otp_token"') : page.index('name="otp_token"')]
    assert "That code is not right" in field_group
    assert client.get(reverse("dashboard")).status_code == 302
    assert AuditEntry.objects.filter(action="two_factor_code_refused", actor=coordinator).exists()
    # The right code still works.
    response = client.post(reverse("two-factor-verify"), {"otp_token": one_time_code(coordinator)})
    assert response.status_code == 302


def test_a_wrong_code_at_enrolment_is_refused_next_to_the_field(coordinator):
    client = password_only(coordinator)
    client.get(reverse("two-factor-enrol"))
    response = client.post(reverse("two-factor-enrol"), {"otp_token": "12345"})
    assert response.status_code == 400 and "That code is not right" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=coordinator, confirmed=True).exists()


def test_a_recovery_code_signs_in_once(coordinator):
    codes = enrol_through_the_page(password_only(coordinator))
    first = password_only(coordinator)
    response = first.post(reverse("two-factor-verify"), {"recovery_code": codes[0].upper()})
    assert response.status_code == 302
    assert first.get(reverse("dashboard")).status_code == 200
    assert StaticToken.objects.filter(device__user=coordinator).count() == 9
    assert AuditEntry.objects.filter(action="two_factor_recovery_code_used", actor=coordinator).exists()
    second = password_only(coordinator)
    response = second.post(reverse("two-factor-verify"), {"recovery_code": codes[0]})
    assert response.status_code == 400 and "already used" in response.content.decode()
    assert second.get(reverse("dashboard")).status_code == 302


def test_a_password_alone_cannot_replace_the_authenticator(coordinator):
    enrol(coordinator)
    client = password_only(coordinator)
    response = client.get(reverse("two-factor-enrol"))
    assert response.status_code == 302 and response.url.startswith(reverse("two-factor-verify"))
    assert client.post(reverse("two-factor-recovery-codes")).status_code == 403


def test_the_admin_asks_for_the_code_too(community):
    staff = make_user("staffer", community, is_staff=True, is_superuser=True)
    client = password_only(staff)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith(reverse("two-factor-enrol"))
    sign_in(client, staff)
    assert client.get("/admin/").status_code == 200


def test_a_referrer_is_held_at_the_second_step_too(referrer_user):
    client = Client()
    client.force_login(referrer_user)
    response = client.get(reverse("referrals"))
    assert response.status_code == 302 and response.url.startswith(reverse("two-factor-enrol"))
    sign_in(client, referrer_user)
    assert client.get(reverse("referrals")).status_code == 200


def test_citizens_and_volunteers_are_not_asked_for_a_code_and_have_no_second_step(citizen, volunteer):
    for person, page in ((citizen, "my-requests"), (volunteer, "inbox")):
        client = password_only(person)
        assert client.get(reverse(page)).status_code == 200
        assert client.get(reverse("two-factor-enrol")).status_code == 404
        assert client.get(reverse("two-factor-verify")).status_code == 404


def test_a_fetch_of_an_unverified_coordinator_gets_a_json_reason(coordinator):
    client = password_only(coordinator)
    response = client.get(reverse("account-data"))
    assert response.status_code == 403
    assert response.json()["error"] == "two_factor_required"


def test_signing_out_works_half_way_through(coordinator):
    client = password_only(coordinator)
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_coordinator_resets_a_colleagues_lost_phone_audited_and_they_enrol_again(
    coordinator, community, referrer_user
):
    colleague = make_user("colleague", community, is_coordinator=True)
    enrol(colleague)
    enrol(referrer_user)
    colleagues_session = Client()
    sign_in(colleagues_session, colleague)
    client = Client()
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-two-factor")).content.decode()
    assert "Colleague" in page and "Ann Janssens" in page
    for person in (colleague, referrer_user):
        response = client.post(reverse("coordinator-two-factor-reset", args=[person.pk]))
        assert response.status_code == 302
        assert not two_factor.is_enrolled(person)
        entry = AuditEntry.objects.get(action="two_factor_reset", subject=f"user:{person.pk}")
        assert entry.actor == coordinator and entry.community == community
    # The colleague's open session asks again, and the password leads to enrolment.
    response = colleagues_session.get(reverse("dashboard"))
    assert response.status_code == 302 and response.url.startswith(reverse("two-factor-enrol"))


def test_only_a_coordinator_of_the_same_community_can_reset(
    coordinator, outsider_coordinator, citizen, volunteer, community
):
    enrol(coordinator)
    stranger = Client()
    sign_in(stranger, outsider_coordinator)
    assert stranger.post(reverse("coordinator-two-factor-reset", args=[coordinator.pk])).status_code == 404
    assert two_factor.is_enrolled(coordinator)
    citizens_client = Client()
    sign_in(citizens_client, citizen)
    assert (
        citizens_client.post(reverse("coordinator-two-factor-reset", args=[coordinator.pk])).status_code
        == 404
    )
    own = Client()
    sign_in(own, coordinator)
    assert own.post(reverse("coordinator-two-factor-reset", args=[coordinator.pk])).status_code == 404
    assert not AuditEntry.objects.filter(action="two_factor_reset").exists()


def test_guessing_codes_is_rate_limited_per_person(coordinator, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "two_factor": "3/m"}
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    enrol(coordinator)
    client = password_only(coordinator)
    for _attempt in range(3):
        assert client.post(reverse("two-factor-verify"), {"otp_token": "000000"}).status_code == 400
    response = client.post(reverse("two-factor-verify"), {"otp_token": one_time_code(coordinator)})
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302
    assert AuditEntry.objects.filter(action="two_factor_code_refused", actor=coordinator).count() == 3


def test_after_a_wrong_code_the_next_try_waits_and_says_how_long(coordinator, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    enrol(coordinator)
    client = password_only(coordinator)
    assert client.post(reverse("two-factor-verify"), {"otp_token": "000000"}).status_code == 400
    response = client.post(reverse("two-factor-verify"), {"otp_token": one_time_code(coordinator)})
    assert response.status_code == 429
    assert re.search(r"wait (59|60) seconds", response.content.decode())
    assert client.get(reverse("dashboard")).status_code == 302


def test_new_recovery_codes_replace_the_old_ones(coordinator):
    client = password_only(coordinator)
    old = enrol_through_the_page(client)
    response = client.post(reverse("two-factor-recovery-codes"))
    assert response.status_code == 302
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", client.get(response.url).content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert two_factor.code_verify(user=coordinator, code=old[1]) is None


@pytest.mark.django_db(transaction=True)
async def test_an_unverified_coordinators_socket_is_refused(coordinator):
    client = await sync_to_async(password_only)(coordinator)
    socket, connected = await connect(cookie=cookie_of(client))
    assert not connected
    await socket.disconnect()
    await sync_to_async(sign_in)(client, coordinator)
    socket, connected = await connect(cookie=cookie_of(client))
    assert connected
    await socket.disconnect()


@pytest.mark.slow
def test_the_demo_coordinator_is_enrolled_with_the_printed_key_and_a_code_command(db, settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("load_leuven_demo", stdout=out)
    printed = out.getvalue()
    device = two_factor.authenticator(two_factor.User.objects.get(username="coordinator"))
    assert two_factor.secret_as_text(device) in printed
    code = StringIO()
    call_command("one_time_code", "coordinator", stdout=code)
    assert code.getvalue().strip() == f"{TOTP(device.bin_key).token():06d}"


def test_production_always_requires_two_factor_whatever_the_variable_says():
    environment = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "a-test-key-of-many-different-characters-0123456789-abcdefghij",
        "ALLOWED_HOSTS": "example.org",
        "TWO_FACTOR_REQUIRED": "0",
        "DJANGO_SETTINGS_MODULE": "mutualaid.settings",
    }
    code = "from django.conf import settings; print(settings.TWO_FACTOR_REQUIRED)"
    for debug, expected in (("0", "True"), ("1", "False")):
        answer = subprocess.run(
            [sys.executable, "-c", code],
            env={**environment, "DEBUG": debug},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert answer.stdout.strip() == expected
