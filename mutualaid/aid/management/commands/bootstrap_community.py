"""`manage.py bootstrap_community`: the first community of a new deployment, its default
categories and its first coordinator, who gets a password-reset link (or a random password)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from mutualaid.accounts.models import User
from mutualaid.aid.demo import CATEGORIES, grant_coordinator_admin
from mutualaid.aid.models import Category, Community


class Command(BaseCommand):
    help = (
        "Create a community with the default categories and its first coordinator (staff, with "
        "the coordinator's admin rights), on an empty production database. Prints a password-reset "
        "link for the coordinator (or, with --print-password, a random password), shown only once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="the community's name, e.g. 'Leuven'")
        parser.add_argument("--slug", required=True, help="its short code in addresses, e.g. 'leuven'")
        parser.add_argument("--coordinator", required=True, help="the coordinator's username")
        parser.add_argument("--email", required=True, help="the coordinator's e-mail address")
        parser.add_argument("--latitude", type=float, default=50.8798, help="the centre (default: Leuven)")
        parser.add_argument("--longitude", type=float, default=4.7005, help="the centre (default: Leuven)")
        parser.add_argument("--phone", default="", help="the phone line for people who are not online")
        parser.add_argument("--language", default="nl", choices=[code for code, _ in settings.LANGUAGES])
        parser.add_argument(
            "--print-password",
            action="store_true",
            help="set and print a random password instead of printing a password-reset link",
        )

    def handle(self, *args, **options) -> None:
        if Community.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"A community with the slug {options['slug']!r} exists already.")
        if User.objects.filter(username__iexact=options["coordinator"]).exists():
            raise CommandError(f"The username {options['coordinator']!r} is taken.")
        with transaction.atomic():
            community = Community.objects.create(
                name=options["name"],
                slug=options["slug"],
                latitude=options["latitude"],
                longitude=options["longitude"],
                contact_phone=options["phone"],
            )
            for slug, name, dutch, french in CATEGORIES:
                Category.objects.create(
                    community=community, slug=slug, name=name, name_nl=dutch, name_fr=french
                )
            coordinator = User(
                username=options["coordinator"],
                email=options["email"],
                community=community,
                is_coordinator=True,
                is_staff=True,
                preferred_language=options["language"],
            )
            password = secrets.token_urlsafe(16) if options["print_password"] else None
            if password:
                coordinator.set_password(password)
            else:
                coordinator.set_unusable_password()
            coordinator.save()
            grant_coordinator_admin(coordinator)
        self.stdout.write(
            f"Community {community.name!r} ({community.slug}) with {len(CATEGORIES)} categories and "
            f"coordinator {coordinator.username!r} created."
        )
        if password:
            self.stdout.write(f"The coordinator's password (shown only now): {password}")
        else:
            path = reverse(
                "password_reset_confirm",
                args=[
                    urlsafe_base64_encode(force_bytes(coordinator.pk)),
                    default_token_generator.make_token(coordinator),
                ],
            )
            self.stdout.write(
                f"The coordinator sets a password here (once, within "
                f"{settings.PASSWORD_RESET_TIMEOUT // 86400} days):\n"
                f"{settings.SITE_URL}{path}"
            )
