"""Running the service: static files for production, health, readiness, metrics, logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import sys

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from matching.models import MatchingRun
from matching.services import propose_assignments
from mutualaid.operations.logs import JsonFormatter, OneLineFormatter
from notifications.models import OutgoingMessage
from tests.conftest import sign_in
from tests.web.test_limits_and_headers import PRODUCTION, run_manage
from worker.models import WorkerHeartbeat


@pytest.mark.slow  # over 2 s: left out of the edit-test loop
def test_collectstatic_with_the_production_storage(tmp_path):
    # WhiteNoise's manifest storage follows every url() and sourceMappingURL in CSS and
    # JavaScript: a reference to a file not in the repository fails the deployment.
    static_root = tmp_path / "static"
    environment = PRODUCTION | {"STATIC_ROOT": str(static_root)}
    result = run_manage("collectstatic", "--noinput", environment=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (static_root / "staticfiles.json").is_file()
    assert list(static_root.glob("vendor/leaflet/leaflet.*.js"))  # hashed names for long caching
    assert list(static_root.glob("vendor/leaflet/leaflet.*.js.gz"))  # compressed beside them


# Health and readiness


def test_healthz_answers_ok_without_touching_the_database(client):
    response = client.get("/healthz")  # no `db` fixture: any query would fail this test
    assert response.status_code == 200
    assert response.text == "ok" and response["Content-Type"].startswith("text/plain")
    assert reverse("healthz") == "/healthz"


def test_probes_need_no_https_no_allowed_host_no_session_and_no_csrf(client, settings, db):
    # A probe on a daphne's loopback port under the production settings: plain HTTP, the
    # port's own address as Host (not in ALLOWED_HOSTS), no cookies.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["help.example.org"]
    for path in ("/healthz", "/readyz", "/metrics"):
        response = client.get(path, HTTP_HOST="127.0.0.1:8001")
        assert response.status_code in (200, 503), (path, response.status_code)
        assert not response.cookies, path
    assert client.post("/healthz").status_code == 405


def test_probes_are_never_rate_limited(client, settings, db):
    settings.RATE_LIMITS = {group: "1/h" for group in settings.RATE_LIMITS}
    assert {client.get("/healthz").status_code for _ in range(20)} == {200}


def beat(seconds_ago: float = 0.0) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        name="worker-host:1",
        defaults={
            "started_at": now - dt.timedelta(hours=1),
            "beat_at": now - dt.timedelta(seconds=seconds_ago),
        },
    )


def test_readyz_names_each_part_and_is_ready_with_a_recent_heartbeat(client, db, settings):
    settings.REDIS_URL = ""
    beat(seconds_ago=5)
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["database"]["ready"] and body["worker"]["ready"]
    assert body["redis"] == {"ready": True, "detail": "not configured"}


def test_readyz_is_503_without_a_worker_heartbeat_or_with_an_old_one(client, db, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["worker"] == {"ready": False, "detail": "no worker heartbeat yet"}
    settings.READY_WORKER_MAX_AGE_SECONDS = 60
    beat(seconds_ago=61)
    response = client.get("/readyz")
    assert response.status_code == 503 and not response.json()["worker"]["ready"]
    assert response.json()["database"]["ready"]


def test_readyz_is_503_when_redis_does_not_answer(client, db, settings):
    beat()
    nobody_listens = socket.socket()
    nobody_listens.bind(("127.0.0.1", 0))  # a port of our own that accepts no connection
    try:
        settings.REDIS_URL = f"redis://127.0.0.1:{nobody_listens.getsockname()[1]}/0"
        response = client.get("/readyz")
    finally:
        nobody_listens.close()
    assert response.status_code == 503
    assert response.json()["redis"]["ready"] is False
    assert response.json()["worker"]["ready"] and response.json()["database"]["ready"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_readyz_pings_the_configured_redis(client, db):
    beat()
    assert client.get("/readyz").json()["redis"] == {"ready": True, "detail": "ok"}


@pytest.mark.django_db(transaction=True)
async def test_the_probes_answer_on_the_asynchronous_stack_as_daphne_runs_them(async_client, settings):
    settings.REDIS_URL = ""
    response = await async_client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"
    await database_sync_to_async(beat)()
    try:
        response = await async_client.get("/readyz")
    finally:
        # The test client keeps connections open after a request (daphne closes them): close
        # the one the probe opened in the database thread, so the test database can go.
        await sync_to_async(connections.close_all)()
    assert response.status_code == 200, response.content


# Metrics


def metric(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus' text format, or None when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return None


def test_metrics_report_requests_matching_the_outbox_the_worker_and_http(
    client, help_request, volunteer, community, settings
):
    volunteer.email = "volunteer@example.org"
    volunteer.save()
    propose_assignments(community=community, trigger=MatchingRun.Trigger.COMMAND)
    pending = OutgoingMessage.objects.filter(status=OutgoingMessage.Status.PENDING).count()
    beat(seconds_ago=7)
    client.get(reverse("home"))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.text
    assert metric(text, "mutualaid_help_requests", status="proposed") == 1
    assert metric(text, "mutualaid_help_requests", status="open") == 0
    assert metric(text, "mutualaid_matching_runs_total", trigger="command") == 1
    assert metric(text, "mutualaid_matching_run_duration_seconds_count") == 1
    assert metric(text, "mutualaid_outbox_backlog", channel="email") == pending > 0
    assert 7 <= metric(text, "mutualaid_worker_heartbeat_age_seconds") < 60
    assert metric(text, "mutualaid_http_requests_total", view="home", method="GET", status="200") >= 1
    assert metric(text, "mutualaid_http_request_duration_seconds_count", view="home") >= 1
    assert metric(text, "mutualaid_websockets_open") is not None
    assert metric(text, "mutualaid_database_up") == 1
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {name for name in names if name.startswith("mutualaid")} == {
        name for name in names if not name.startswith(("process_", "python_"))
    }


def test_metrics_are_refused_to_other_peers_unless_they_bring_the_token(client, db, settings):
    settings.METRICS_TOKEN = "a-long-metrics-token-0123456789"
    outside = {"REMOTE_ADDR": "203.0.113.5"}
    assert client.get("/metrics", **outside).status_code == 403
    assert client.get("/metrics", **outside, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get("/metrics", **outside, HTTP_AUTHORIZATION="Bearer a-long-metrics-token-0123456789")
    assert response.status_code == 200
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert client.get("/metrics", **outside).status_code == 200


def test_metrics_never_believe_a_forwarded_header(client, db, settings):
    # A client cannot claim loopback in X-Forwarded-For ...
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403
    # ... and through a local reverse proxy (its peer is loopback) only the token counts.
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert response.status_code == 403
    settings.METRICS_TOKEN = "a-long-metrics-token-0123456789"
    response = client.get(
        "/metrics",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.5",
        HTTP_AUTHORIZATION="Bearer a-long-metrics-token-0123456789",
    )
    assert response.status_code == 200


# Logs


def log_record(message: str, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("mutualaid.test", logging.ERROR, __file__, 1, message, (), exc_info)


def test_json_logs_are_one_object_per_line_with_time_level_and_logger():
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        line = JsonFormatter().format(log_record("went wrong: %s", sys.exc_info()))
    assert "\n" not in line
    event = json.loads(line)
    assert event["level"] == "ERROR" and event["logger"] == "mutualaid.test"
    assert event["message"] == "went wrong: %s"
    assert dt.datetime.fromisoformat(event["time"]).tzinfo is not None
    assert "ValueError: broken" in event["exception"]


def test_text_logs_keep_a_traceback_on_one_line():
    try:
        raise ValueError("broken")
    except ValueError:
        line = OneLineFormatter().format(log_record("went wrong", sys.exc_info()))
    assert "\n" not in line and " ERROR mutualaid.test went wrong" in line and "ValueError" in line


def test_log_format_json_switches_the_handlers_format():
    code = "import logging; logging.getLogger('mutualaid.probe').warning('hello')"
    result = run_manage("shell", "-c", code, environment={"LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stderr.strip().splitlines()[-1])
    assert event["logger"] == "mutualaid.probe" and event["message"] == "hello"
    result = run_manage("shell", "-c", code, environment={})
    assert " WARNING mutualaid.probe hello" in result.stderr


# Personal pages are not cached


def test_personal_pages_are_never_stored_by_a_cache(client, proposal, citizen, volunteer, coordinator):
    pages = {
        citizen: [reverse("request-detail", args=[proposal.help_request.pk]), reverse("account"),
                  reverse("my-requests")],
        volunteer: [reverse("task-detail", args=[proposal.pk]), reverse("inbox")],
        coordinator: [reverse("dashboard"), reverse("coordinator-callbacks"),
                      reverse("coordinator-request", args=[proposal.help_request.pk])],
    }  # fmt: skip
    for person, paths in pages.items():
        sign_in(client, person)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response["Cache-Control"] == "no-store", path
    client.logout()
    assert "no-store" not in client.get(reverse("home")).get("Cache-Control", "")
