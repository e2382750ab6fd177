"""`manage.py worker`: the production worker (run one or more beside daphne)."""

import asyncio
import gc
import logging

from django.core.management.base import BaseCommand

from worker.loop import run_worker


class Command(BaseCommand):
    help = (
        "Run the background jobs: matching for communities that are due, proposal expiry, the "
        "outbox (e-mail), the daily purge of personal data, and a heartbeat. Run one or more "
        "beside daphne when REDIS_URL is set; several workers never do one job twice."
    )

    def handle(self, *args, **options) -> None:
        for name in ("matching", "notifications", "worker", "mutualaid"):
            logging.getLogger(name).setLevel(logging.INFO)
        self.stdout.write("Worker started; Ctrl+C stops it.")
        gc.freeze()  # as in mutualaid/asgi.py: full collections skip what lives as long as we do
        try:
            asyncio.run(run_worker())
        except KeyboardInterrupt:
            self.stdout.write("Worker stopped.")
