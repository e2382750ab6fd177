"""`manage.py load_leuven_demo`: the demo community, its people, and the logins to try."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from matching.models import MatchingRun
from matching.services import propose_assignments
from mutualaid.accounts.models import User
from mutualaid.accounts.two_factor import authenticator, secret_as_text
from mutualaid.aid.demo import (
    COMMUNITY_SLUG,
    DEMO_PASSWORD,
    DEMO_TOTP_KEY,
    load_leuven_demo,
    random_demo_passwords,
)
from mutualaid.aid.models import Community


class Command(BaseCommand):
    help = "Load the Leuven demo (a community, a coordinator, ~30 requests, ~60 volunteers), match it."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load it even with DEBUG=0 (a demo server): random passwords, printed once.",
        )

    def handle(self, *args, allow_production: bool = False, **options) -> None:
        production = not settings.DEBUG
        if production and not allow_production:
            raise CommandError(
                "DEBUG=0: this looks like production, and the demo's people have a published password. "
                "Use bootstrap_community for a real community, or --allow-production for a demo server "
                "(random passwords, printed once)."
            )
        already_loaded = Community.objects.filter(slug=COMMUNITY_SLUG).exists()
        passwords = random_demo_passwords() if production and not already_loaded else None
        community = load_leuven_demo(progress=self.stdout.write, passwords=passwords)
        if not community.matching_runs.exists():
            outcome = propose_assignments(community=community, trigger=MatchingRun.Trigger.COMMAND)
            self.stdout.write(
                f"First matching: {outcome.proposed} of {outcome.open_requests} requests proposed."
            )
        if passwords is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    "Logins (random passwords, shown only this once):\n"
                    f"  the coordinator's password: {passwords['coordinator']}\n"
                    f"  everyone else's password:   {passwords['everyone else']}"
                )
            )
        elif production:
            self.stdout.write(self.style.SUCCESS("Logins (passwords as printed when the demo was loaded):"))
        else:
            self.stdout.write(self.style.SUCCESS(f"Logins to try (password for all: {DEMO_PASSWORD}):"))
        self.stdout.write("  coordinator              the coordinator's dashboard and the admin")
        coordinator = User.objects.filter(username="coordinator", community=community).first()
        device = authenticator(coordinator) if coordinator is not None else None
        if device is not None and device.key == DEMO_TOTP_KEY:
            self.stdout.write(
                "    then a one-time code: add this key to an authenticator app (time-based, 6 digits)\n"
                f"    {secret_as_text(device)}   or run: manage.py one_time_code coordinator"
            )
        elif production:
            self.stdout.write("    then sets up two-step sign-in with an authenticator app on their phone")
        self.stdout.write("  citizen1 .. citizen30    people who asked for help ('My requests')")
        self.stdout.write("  volunteer1 .. volunteer60  volunteers ('Volunteer': inbox of proposals)")
        self.stdout.write("  The dashboard shows which volunteer each request was proposed to.")
