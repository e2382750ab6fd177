"""The password hasher: Argon2id at OWASP's minimum cost, so a sign-up surge is not bound by it.

Django's own Argon2 hasher asks for 100 MiB and 8 lanes per hash; on a 2-core server that is
about 0.1 s of CPU and 100 MiB per login, and PBKDF2 at Django's count about 0.3 s. OWASP's
Password Storage Cheat Sheet gives Argon2id with 19 MiB, 2 iterations and 1 lane as the minimum
configuration, equivalent in strength to its other options; at that cost a login takes about
20-30 ms of one core (docs/security.md), so two cores hash 60+ logins a second. Hashes written
by the older hashers still verify and are rewritten with this one at the person's next login.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class OwaspArgon2idPasswordHasher(Argon2PasswordHasher):
    # Same algorithm name as Django's: the hashes are standard PHC strings ($argon2id$...),
    # and Django's `must_update` rewrites any argon2 hash whose parameters differ from these.
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
