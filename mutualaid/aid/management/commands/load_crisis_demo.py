"""`manage.py load_crisis_demo`: thousands of open requests and volunteers, to try the
coordinators' dashboard at the size of a bad day."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mutualaid.aid.crisis_demo import DEFAULT_REQUESTS, DEFAULT_VOLUNTEERS, AlreadyLoaded, load_crisis_demo


class Command(BaseCommand):
    help = (
        f"Add a crisis-size set ({DEFAULT_REQUESTS} open requests, {DEFAULT_VOLUNTEERS} volunteers "
        "around Leuven by default) to a community. Matching is not run."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--community", default="leuven", help="the community's slug (created if missing)")
        parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="open requests to add")
        parser.add_argument("--volunteers", type=int, default=DEFAULT_VOLUNTEERS, help="volunteers to add")
        parser.add_argument("--seed", type=int, default=2026, help="the random seed (the same set each time)")

    def handle(self, *args, community: str, requests: int, volunteers: int, seed: int, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "DEBUG=0: this looks like production; the crisis set is for trying and measuring."
            )
        if requests < 1 or volunteers < 1:
            raise CommandError("--requests and --volunteers must be at least 1.")
        try:
            load_crisis_demo(
                community_slug=community,
                requests=requests,
                volunteers=volunteers,
                seed=seed,
                progress=self.stdout.write,
            )
        except AlreadyLoaded as error:
            raise CommandError(f"{error} Nothing was changed.") from error
