"""The password hasher: Argon2id no weaker than OWASP's minimum, and older hashes upgraded at login.

The rest of the suite hashes with MD5 for speed (tests/conftest.py); these tests put the
production list back.
"""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from django.contrib.auth.hashers import identify_hasher, make_password
from django.urls import reverse

from mutualaid import settings as project_settings
from tests.conftest import PASSWORD, make_user


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS


def test_new_passwords_are_hashed_with_argon2id_at_no_less_than_owasps_minimum(production_hashers):
    encoded = make_password("a long enough passphrase")

    parameters = extract_parameters(encoded.removeprefix("argon2"))
    assert parameters.type.name == "ID"
    assert parameters.memory_cost >= 19 * 1024  # KiB
    assert parameters.time_cost >= 2
    assert parameters.parallelism >= 1


def test_a_pbkdf2_hash_still_signs_in_and_is_rewritten_as_argon2id(client, community, production_hashers):
    volunteer = make_user("pieter", community)
    volunteer.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    volunteer.save(update_fields=["password"])

    response = client.post(reverse("login"), {"username": "pieter", "password": PASSWORD})

    assert response.status_code == 302
    volunteer.refresh_from_db()
    assert identify_hasher(volunteer.password).algorithm == "argon2"
    assert volunteer.check_password(PASSWORD)


def test_a_wrong_password_against_an_old_hash_changes_nothing(client, community, production_hashers):
    volunteer = make_user("pieter", community)
    volunteer.password = old_hash = make_password(PASSWORD, hasher="pbkdf2_sha256")
    volunteer.save(update_fields=["password"])

    response = client.post(reverse("login"), {"username": "pieter", "password": "not the password"})

    assert response.status_code == 200
    volunteer.refresh_from_db()
    assert volunteer.password == old_hash
