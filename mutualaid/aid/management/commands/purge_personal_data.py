"""`manage.py purge_personal_data [--days N]`: forget details of long-finished requests."""

from django.conf import settings
from django.core.management.base import BaseCommand

from mutualaid.aid.personal_data import personal_data_purge


class Command(BaseCommand):
    help = "Remove descriptions, addresses and contacts of requests done or cancelled more than N days ago."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=settings.PERSONAL_DATA_RETENTION_DAYS)

    def handle(self, *args, days: int, **options) -> None:
        def progress(done: int, total: int) -> None:
            self.stdout.write(f"\r  {done}/{total} requests", ending="")
            self.stdout.flush()

        count = personal_data_purge(older_than_days=days, progress=progress)
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(f"Forgot the personal details of {count} requests older than {days} days.")
        )
