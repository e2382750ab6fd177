"""Twilio's request signature (X-Twilio-Signature): HMAC-SHA1, keyed with the auth token,
over the full public URL followed by each POST parameter's name and value, sorted by
name; base64. The URL is the one Twilio called, so it is built from SITE_URL (behind
nginx the request's own host and scheme are not the public ones)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence


def signature(auth_token: str, url: str, params: Mapping[str, Sequence[str]]) -> str:
    """The signature of a POST to `url` with these form fields (each name: its values)."""
    data = url + "".join(name + value for name in sorted(params) for value in sorted(params[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid(auth_token: str, url: str, params: Mapping[str, Sequence[str]], given: str) -> bool:
    if not auth_token or not given:
        return False
    return hmac.compare_digest(signature(auth_token, url, params), given)
