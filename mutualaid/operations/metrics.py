"""Prometheus metrics (`GET /metrics`), every name prefixed `mutualaid_`.

Two kinds:

- counted in this process as it works: HTTP requests by view and status with their
  latency (`RequestMetricsMiddleware`), the WebSockets open on it. Each daphne process
  counts its own, so scrape each process on its own port;
- read from the database at each scrape (`DatabaseCollector`), the same from every
  process: help requests by status, matching runs and their duration (`MatchingRun`), the
  outbox's backlog by channel, the age of the youngest worker heartbeat.
"""

from __future__ import annotations

import logging

from django.db.models import Count, Max, Sum
from django.utils import timezone
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

logger = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "mutualaid_http_requests",
    "HTTP requests answered by this process, by view, method and status code.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "mutualaid_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it, by view.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKETS_OPEN = Gauge("mutualaid_websockets_open", "Live-update sockets open on this process.")
WEBSOCKETS_ACCEPTED = Counter(
    "mutualaid_websockets_accepted", "Live-update sockets this process has accepted since it started."
)


class DatabaseCollector:
    """Figures read from the database at scrape time (a handful of aggregate queries)."""

    def describe(self):
        return []  # so registering it queries nothing (the database may not exist yet)

    def collect(self):
        # Imported here: this module is imported by the consumer before the apps are ready.
        from matching.models import MatchingRun
        from mutualaid.aid.models import HelpRequest
        from mutualaid.aid.states import RequestStatus
        from notifications.models import OutgoingMessage
        from worker.jobs import latest_heartbeat_age_seconds

        try:
            by_status = dict(
                HelpRequest.objects.order_by()
                .values_list("status")
                .annotate(n=Count("pk"))
                .values_list("status", "n")
            )
            requests = GaugeMetricFamily(
                "mutualaid_help_requests", "Help requests by status.", labels=["status"]
            )
            for status in RequestStatus.values:
                requests.add_metric([status], by_status.get(status, 0))
            yield requests

            runs = MatchingRun.objects.aggregate(
                n=Count("pk"), seconds=Sum("seconds"), last=Max("started_at")
            )
            yield SummaryMetricFamily(
                "mutualaid_matching_run_duration_seconds",
                "Matching runs (every community, since the start) and the time they took.",
                count_value=runs["n"] or 0,
                sum_value=runs["seconds"] or 0.0,
            )
            matching_runs = CounterMetricFamily(
                "mutualaid_matching_runs", "Matching runs by what started them.", labels=["trigger"]
            )
            by_trigger = dict(
                MatchingRun.objects.order_by()
                .values_list("trigger")
                .annotate(n=Count("pk"))
                .values_list("trigger", "n")
            )
            for trigger in MatchingRun.Trigger.values:
                matching_runs.add_metric([trigger], by_trigger.get(trigger, 0))
            yield matching_runs
            last = MatchingRun.objects.order_by("-started_at").values_list("seconds", flat=True).first()
            if last is not None:
                yield GaugeMetricFamily(
                    "mutualaid_matching_last_run_duration_seconds",
                    "How long the latest matching run took.",
                    last,
                )
                yield GaugeMetricFamily(
                    "mutualaid_matching_last_run_age_seconds",
                    "Seconds since the latest matching run started.",
                    (timezone.now() - runs["last"]).total_seconds(),
                )

            pending = _counts(
                OutgoingMessage.objects.filter(status=OutgoingMessage.Status.PENDING), "channel"
            )
            backlog = GaugeMetricFamily(
                "mutualaid_outbox_backlog", "Messages waiting to be sent, by channel.", labels=["channel"]
            )
            for channel in OutgoingMessage.Channel.values:
                backlog.add_metric([channel], pending.get(channel, 0))
            yield backlog
            failed = OutgoingMessage.objects.filter(status=OutgoingMessage.Status.FAILED).count()
            yield GaugeMetricFamily(
                "mutualaid_outbox_failed", "Messages given up on after every try.", failed
            )

            age = latest_heartbeat_age_seconds()
            if age is not None:  # no sample at all until a worker beats: alert on absent()
                yield GaugeMetricFamily(
                    "mutualaid_worker_heartbeat_age_seconds",
                    "Seconds since the youngest worker heartbeat.",
                    age,
                )
            yield GaugeMetricFamily("mutualaid_database_up", "Whether the figures above could be read.", 1)
        except Exception:
            logger.warning("Metrics: the database could not be read", exc_info=True)
            yield GaugeMetricFamily("mutualaid_database_up", "Whether the figures above could be read.", 0)


def _counts(queryset, field: str) -> dict[str, int]:
    rows = queryset.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n")
    return dict(rows)


_database_collector = DatabaseCollector()
REGISTRY.register(_database_collector)
