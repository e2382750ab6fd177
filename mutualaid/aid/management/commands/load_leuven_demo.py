"""`manage.py load_leuven_demo`: the demo community, its people, and the logins to try."""

from django.core.management.base import BaseCommand

from matching.models import MatchingRun
from matching.services import propose_assignments
from mutualaid.aid.demo import DEMO_PASSWORD, load_leuven_demo


class Command(BaseCommand):
    help = "Load the Leuven demo (a community, a coordinator, ~30 requests, ~60 volunteers), match it."

    def handle(self, *args, **options) -> None:
        community = load_leuven_demo(progress=self.stdout.write)
        if not community.matching_runs.exists():
            outcome = propose_assignments(community=community, trigger=MatchingRun.Trigger.COMMAND)
            self.stdout.write(
                f"First matching: {outcome.proposed} of {outcome.open_requests} requests proposed."
            )
        self.stdout.write(self.style.SUCCESS(f"Logins to try (password for all: {DEMO_PASSWORD}):"))
        self.stdout.write("  coordinator              the coordinator's dashboard and the admin")
        self.stdout.write("  citizen1 .. citizen30    people who asked for help ('My requests')")
        self.stdout.write("  volunteer1 .. volunteer60  volunteers ('Volunteer': inbox of proposals)")
        self.stdout.write("  The dashboard shows which volunteer each request was proposed to.")
