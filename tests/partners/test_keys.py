"""API keys: the management command, the coordinators' page, hashing and revoking."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from mutualaid.aid.models import AuditEntry
from mutualaid.partners import services
from mutualaid.partners.management.commands.api_key import Command
from mutualaid.partners.models import ApiKey, PartnerOrganisation
from tests.conftest import sign_in


def run_command(*argv: str) -> tuple[int, str, str]:
    """Run `manage.py api_key ...` as the shell would: exit code, stdout, stderr."""
    import io
    from unittest import mock

    out, err = io.StringIO(), io.StringIO()
    command = Command(stdout=out, stderr=err)
    try:
        # run_from_argv closes the connections when done: not the test's own.
        with mock.patch("django.db.connections.close_all"):
            command.run_from_argv(["manage.py", "api_key", *argv])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_create_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash(community):
    code, out, _err = run_command("create", "--organisation", "Leuven 311", "--community", "leuven")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("mak_") and " " not in token and len(token) > 40
    key = ApiKey.objects.get()
    assert key.organisation.name == "Leuven 311" and key.organisation.community == community
    assert key.secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(ApiKey.objects.values()))  # never stored in clear
    assert token.startswith(key.prefix) and len(key.prefix) < 16
    assert services.api_key_authenticate(token) == key
    assert AuditEntry.objects.filter(action="api_key_create", community=community).count() == 1


def test_create_reuses_the_organisation_and_gives_it_a_system_user_nobody_signs_in_as(community):
    call_command("api_key", "create", "--organisation", "OCMW", "--community", "leuven", stdout=None)
    call_command("api_key", "create", "--organisation", "OCMW", "--community", "leuven", stdout=None)
    organisation = PartnerOrganisation.objects.get()
    assert organisation.api_keys.count() == 2
    user = organisation.system_user
    assert not user.is_active and not user.has_usable_password() and not user.is_coordinator
    assert not Client().login(username=user.username, password="")


def test_an_unknown_community_exits_1_with_one_line_on_stderr(community):
    code, _out, err = run_command("create", "--organisation", "X", "--community", "atlantis")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "atlantis" in err
    assert not ApiKey.objects.exists() and not PartnerOrganisation.objects.exists()


def test_revoke_command_stops_the_key(community):
    _code, out, _err = run_command("create", "--organisation", "Leuven 311", "--community", "leuven")
    token = out.strip().splitlines()[-1]
    code, out, _err = run_command("revoke", token)
    assert code == 0 and "Revoked" in out
    assert ApiKey.objects.get().revoked_at is not None
    assert services.api_key_authenticate(token) is None
    assert AuditEntry.objects.filter(action="api_key_revoke").count() == 1
    code, _out, err = run_command("revoke", "mak_not-a-key")
    assert code == 1 and len(err.strip().splitlines()) == 1


def test_a_wrong_or_malformed_token_is_no_key(community):
    organisation = services.organisation_get_or_create(community=community, name="Leuven 311")
    _key, token = services.api_key_create(organisation=organisation, created_by=None)
    for wrong in ("", token[:-1], token + "x", "Bearer " + token, "x" * 500):
        assert services.api_key_authenticate(wrong) is None


def test_use_is_noted_in_last_used_at(community):
    organisation = services.organisation_get_or_create(community=community, name="Leuven 311")
    key, token = services.api_key_create(organisation=organisation, created_by=None)
    assert key.last_used_at is None
    services.api_key_authenticate(token)
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_coordinator_page_shows_a_new_key_once_then_only_its_prefix(coordinator, community):
    client = Client()
    sign_in(client, coordinator)
    page = client.post(reverse("coordinator-api-keys"), {"organisation": "Leuven 311"})
    assert page.status_code == 200
    key = ApiKey.objects.get()
    token = page.context["token"]
    assert token in page.content.decode()
    assert key.created_by == coordinator and services.api_key_authenticate(token) == key
    again = client.get(reverse("coordinator-api-keys")).content.decode()
    assert token not in again and key.prefix in again
    revoked = client.post(reverse("coordinator-api-key-revoke", args=[key.pk]))
    assert revoked.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    entries = AuditEntry.objects.filter(actor=coordinator, action__startswith="api_key_")
    assert sorted(entries.values_list("action", flat=True)) == ["api_key_create", "api_key_revoke"]


def test_another_communitys_coordinator_cannot_revoke(community, outsider_coordinator):
    organisation = services.organisation_get_or_create(community=community, name="Leuven 311")
    key, _token = services.api_key_create(organisation=organisation, created_by=None)
    client = Client()
    sign_in(client, outsider_coordinator)
    assert client.post(reverse("coordinator-api-key-revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert key.prefix not in client.get(reverse("coordinator-api-keys")).content.decode()


@pytest.mark.parametrize("persona", ["citizen", "volunteer"])
def test_only_coordinators_see_the_page(request, persona):
    client = Client()
    sign_in(client, request.getfixturevalue(persona))
    assert client.get(reverse("coordinator-api-keys")).status_code == 404
