"""`manage.py api_key create --organisation NAME --community SLUG` and `api_key revoke KEY`."""

from django.core.management.base import BaseCommand, CommandError

from mutualaid.aid.models import Community
from mutualaid.partners import services


class Command(BaseCommand):
    help = "Create an API key for a partner organisation (made if new), or revoke one."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a new key; the last line printed is the key alone")
        create.add_argument("--organisation", required=True)
        create.add_argument("--community", required=True, help="the community's slug")
        revoke = actions.add_parser("revoke", help="revoke a key (the whole key)")
        revoke.add_argument("key")

    def handle(self, *args, action: str, **options) -> None:
        if action == "create":
            self.create(options["organisation"], options["community"])
        else:
            self.revoke(options["key"])

    def create(self, name: str, slug: str) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f"No community with the slug {slug!r}.", returncode=1)
        if not name.strip():
            raise CommandError("Give the organisation a name.", returncode=1)
        organisation = services.organisation_get_or_create(community=community, name=name)
        if not organisation.is_active:
            raise CommandError(f"{organisation.name} is deactivated: it gets no keys.", returncode=1)
        key, token = services.api_key_create(organisation=organisation, created_by=None)
        self.stdout.write(f"API key {key.prefix}… for {organisation.name} ({community.slug}); shown once:")
        self.stdout.write(token)

    def revoke(self, token: str) -> None:
        key = services.api_key_find(token.strip())
        if key is None:
            raise CommandError("No such key.", returncode=1)
        services.api_key_revoke(key=key, actor=None)
        self.stdout.write(f"Revoked {key.prefix}… of {key.organisation.name}.")
