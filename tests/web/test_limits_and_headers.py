"""Abuse limits and the production safety settings."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from mutualaid.aid.models import HelpRequest
from mutualaid.limits import person_is_limited
from tests.conftest import PASSWORD, sign_in

ROOT = Path(__file__).resolve().parents[2]


def test_login_attempts_are_limited_without_revealing_whether_the_password_was_right(
    client, citizen, settings
):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"login": "3/m"}
    for _ in range(3):
        response = client.post(reverse("login"), {"username": "citizen", "password": "wrong"})
        assert response.status_code == 200
    response = client.post(reverse("login"), {"username": "citizen", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.text
    assert "correct username and password" not in response.text
    assert "_auth_user_id" not in client.session


def test_the_limit_per_username_counts_every_spelling_the_login_form_accepts(client, citizen, settings):
    # A guesser with many addresses tries one account: the form logs "citizen " and the
    # same name in fullwidth letters in as "citizen", so they must not start a fresh count.
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"login": "3/m"}
    for index in range(3):
        client.post(
            reverse("login"), {"username": "citizen", "password": "wrong"}, REMOTE_ADDR=f"10.0.0.{index}"
        )
    for index, spelling in enumerate(
        ["citizen ", " citizen\t", "\uff43\uff49\uff54\uff49\uff5a\uff45\uff4e", "Citizen"]
    ):
        response = client.post(
            reverse("login"), {"username": spelling, "password": PASSWORD}, REMOTE_ADDR=f"10.0.1.{index}"
        )
        assert response.status_code == 429, repr(spelling)
        assert "_auth_user_id" not in client.session


def test_a_forged_forwarded_for_header_does_not_give_a_fresh_count_per_address(client, community, settings):
    # The limit per address counts REMOTE_ADDR (the connection), never a header the client writes.
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"login": "2/m"}
    statuses = [
        client.post(
            reverse("login"),
            {"username": f"someone{index}", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{index}",
        ).status_code
        for index in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_signups_are_limited_per_address(client, community, settings):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"signup": "2/h"}
    for index in range(3):
        response = client.post(reverse("signup"), {"username": f"spammer{index}", "community": community.pk})
    assert response.status_code == 429 and "Too many attempts" in response.text


def test_posting_requests_is_limited_per_person_and_nothing_is_saved_past_the_limit(
    client, citizen, shopping, settings
):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"post_request": "2/h"}
    sign_in(client, citizen)
    data = {
        "category": shopping.pk,
        "description": "Bread",
        "urgency": 1,
        "address": "Naamsestraat 12, 3000 Leuven",
        "window_1_date": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
        "window_1_part": 0,
    }
    statuses = [client.post(reverse("request-create"), data).status_code for _ in range(3)]
    assert statuses == [302, 302, 429]
    assert HelpRequest.objects.count() == 2


def test_socket_messages_are_limited_per_person(volunteer, settings):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"socket_message": "5/m"}
    results = [person_is_limited(volunteer.pk, "socket_message") for _ in range(7)]
    assert results == [False] * 5 + [True] * 2
    assert not person_is_limited(volunteer.pk + 1, "socket_message")  # everyone has their own count


def test_socket_messages_go_through_when_the_cache_is_down_and_the_fault_is_logged(
    volunteer, settings, caplog
):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"socket_message": "1/m"}
    nobody_listens = socket.socket()
    nobody_listens.bind(("127.0.0.1", 0))  # a port of our own that accepts no connection
    try:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{nobody_listens.getsockname()[1]}/0",
            }
        }
        results = [person_is_limited(volunteer.pk, "socket_message") for _ in range(3)]
    finally:
        nobody_listens.close()
    assert results == [False] * 3
    assert "Rate limit 'socket_message' not counted: the cache is unavailable" in caplog.text


def test_pages_carry_a_content_security_policy_without_inline_script(client, coordinator):
    sign_in(client, coordinator)
    for name in ["home", "dashboard", "request-create", "coordinator-intake"]:
        response = client.get(reverse(name))
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "<script>" not in response.text  # scripts come from files only


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-0123456789abcdefghij",
    "ALLOWED_HOSTS": "help.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_manage(*arguments: str, environment: dict) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in PRODUCTION}
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=clean | environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_checks_are_clean_under_the_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", environment=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_service_refuses_to_start_without_debug_on_the_default_secret_key():
    without_secret = {key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"}
    result = run_manage("check", environment=without_secret)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_behind_trusted_proxies_each_client_is_counted_by_the_address_the_proxy_saw(
    client, community, settings
):
    # One proxy (TRUSTED_PROXY_COUNT=1) appends the client's address; what the client wrote
    # before it (a new fake address each time) changes nothing.
    settings.TRUSTED_PROXY_COUNT = 1
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"login": "2/m"}

    def attempt(client_address: str, index: int) -> int:
        return client.post(
            reverse("login"),
            {"username": f"someone{index}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR=f"198.51.100.{index}, {client_address}",
        ).status_code

    assert [attempt("203.0.113.7", index) for index in range(3)] == [200, 200, 429]
    assert attempt("203.0.113.8", 9) == 200  # another client behind the same proxy


def test_a_password_reset_is_limited_per_e_mail_address(client, citizen, settings, mailoutbox):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"password_reset": "2/h"}
    citizen.email = "peeters@example.org"
    citizen.save()
    statuses = [
        client.post(reverse("password_reset"), {"email": spelling}, REMOTE_ADDR=f"10.0.2.{index}").status_code
        for index, spelling in enumerate(
            ["peeters@example.org", " Peeters@example.org", "peeters@example.org"]
        )
    ]

    assert statuses == [302, 302, 429]
    assert len(mailoutbox) == 2


def test_the_service_refuses_to_start_on_a_weak_secret_key():
    result = run_manage("check", environment=PRODUCTION | {"SECRET_KEY": "changeme"})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr
