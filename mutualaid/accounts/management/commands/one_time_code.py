"""`manage.py one_time_code USER`: the code a person's authenticator app shows now.

Only with DEBUG on: for trying the demo (or a development database) without a phone. In
production a code comes from the person's own phone and nowhere else.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP

from mutualaid.accounts.models import User
from mutualaid.accounts.two_factor import authenticator


class Command(BaseCommand):
    help = "Print the current one-time code of a person's authenticator (DEBUG only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("DEBUG=0: one-time codes come from the person's phone only.")
        person = User.objects.filter(username=username).first()
        device = authenticator(person) if person is not None else None
        if device is None:
            raise CommandError(f"{username} has no authenticator set up.")
        code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{code.token():0{device.digits}d}")
