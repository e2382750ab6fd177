"""`manage.py bootstrap_community`: the first community on an empty production database."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from mutualaid.accounts.models import User
from mutualaid.aid.demo import CATEGORIES
from mutualaid.aid.models import Category, Community
from tests.conftest import sign_in

ARGUMENTS = ["--name", "Herent", "--slug", "herent", "--coordinator", "anna", "--email", "anna@example.org"]
NEW_PASSWORD = "a-new-long-coordinator-password-7"


def test_bootstrap_creates_the_community_its_categories_and_a_coordinator_with_a_reset_link(
    db, capsys, settings
):
    settings.SITE_URL = "https://help.example.org"
    call_command("bootstrap_community", *ARGUMENTS)
    output = capsys.readouterr().out
    community = Community.objects.get(slug="herent")
    assert community.name == "Herent"
    assert Category.objects.filter(community=community).count() == len(CATEGORIES)
    anna = User.objects.get(username="anna")
    assert anna.is_coordinator and anna.is_staff and anna.community == community
    assert anna.email == "anna@example.org" and not anna.has_usable_password()
    assert anna.has_perm("aid.change_category")

    link = re.search(r"https://help\.example\.org(/\S+)", output).group(1)
    client = Client()
    form_page = client.get(link, follow=True)  # the link redirects to its set-password form
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert client.login(username="anna", password=NEW_PASSWORD)
    # Her first sign-in goes on to setting up two-step sign-in, then to the dashboard.
    response = client.get("/coordinator/")
    assert response.status_code == 302 and response.url.startswith(reverse("two-factor-enrol"))
    anna.refresh_from_db()  # her new password: the session carries its hash
    sign_in(client, anna)
    assert client.get("/coordinator/").status_code == 200


def test_bootstrap_can_print_a_random_password_instead(db, capsys):
    call_command("bootstrap_community", *ARGUMENTS, "--print-password")
    password = re.search(r"password \(shown only now\): (\S+)", capsys.readouterr().out).group(1)
    assert len(password) >= 20
    assert User.objects.get(username="anna").check_password(password)


def test_bootstrap_refuses_an_existing_community_or_username(db, community, coordinator):
    with pytest.raises(CommandError, match="exists already"):
        call_command("bootstrap_community", *ARGUMENTS[:2], "--slug", "leuven", *ARGUMENTS[4:])
    with pytest.raises(CommandError, match="is taken"):
        call_command("bootstrap_community", *ARGUMENTS[:4], "--coordinator", "Coordinator", *ARGUMENTS[6:])
    assert Community.objects.count() == 1
