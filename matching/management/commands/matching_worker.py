"""`manage.py matching_worker`: the production matching worker (run one or more)."""

import asyncio
import gc
import logging

from django.core.management.base import BaseCommand

from matching.worker import run_matching_worker


class Command(BaseCommand):
    help = (
        "Run matching for communities that are due, and expire unanswered proposals. "
        "Run alongside daphne when REDIS_URL is set; several workers never run one community twice at once."
    )

    def handle(self, *args, **options) -> None:
        logging.getLogger("matching").setLevel(logging.INFO)
        self.stdout.write("Matching worker started; Ctrl+C stops it.")
        gc.freeze()  # as in mutualaid/asgi.py: full collections skip what lives as long as we do
        try:
            asyncio.run(run_matching_worker())
        except KeyboardInterrupt:
            self.stdout.write("Matching worker stopped.")
