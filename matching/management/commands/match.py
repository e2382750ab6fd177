"""`manage.py match [--community SLUG] [--dry-run]`: run matching now, with progress."""

from django.core.management.base import BaseCommand, CommandError

from matching.models import MatchingRun
from matching.reasons import reason_label
from matching.services import propose_assignments
from mutualaid.aid.models import Community


class Command(BaseCommand):
    help = "Propose volunteers for open requests now (all communities, or one)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--community", help="slug of one community (default: all)")
        parser.add_argument("--dry-run", action="store_true", help="solve and report, change nothing")

    def handle(self, *args, community: str | None = None, dry_run: bool = False, **options) -> None:
        communities = Community.objects.all()
        if community:
            communities = communities.filter(slug=community)
            if not communities.exists():
                known = ", ".join(Community.objects.values_list("slug", flat=True)) or "none"
                raise CommandError(f"No community '{community}'. Known: {known}.")
        for each in communities:
            self.stdout.write(f"{each.name}:")
            outcome = propose_assignments(
                community=each, trigger=MatchingRun.Trigger.COMMAND, dry_run=dry_run, progress=self._progress
            )
            self.stdout.write("")
            verb = "would propose" if dry_run else "proposed"
            self.stdout.write(
                f"  {outcome.open_requests} open requests, "
                f"{outcome.available_volunteers} volunteers available; "
                f"{verb} {outcome.proposed}, {outcome.total_km:.1f} km in total ({outcome.seconds:.2f} s)"
            )
            for code, count in outcome.unassigned_by_reason.items():
                self.stdout.write(f"  waiting: {count} x {reason_label(code)}")
            if outcome.certificate:
                self.stdout.write(f"  optimality: {outcome.certificate.get('method', outcome.certificate)}")

    def _progress(self, stage: str, fraction: float) -> None:
        width = 30
        filled = round(width * max(0.0, min(1.0, fraction)))
        self.stdout.write(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} {stage:<12}", ending=""
        )
        self.stdout.flush()
