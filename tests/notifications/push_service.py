"""A local stand-in for a browser's push service (RFC 8030), and a browser's keys.

The stand-in listens on a free loopback port, checks each message's VAPID authorization
(RFC 8292: an ES256 JWT signed by the key it names, for this audience, not expired) and
decrypts its aes128gcm payload with the subscription's private key and auth secret
(RFC 8291), as the browser would. It answers with the status a test gives it.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unbase64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserKeys:
    """What a browser makes when it subscribes: a P-256 key pair and a 16-byte auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return base64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return base64url(self.auth_secret)


@dataclass
class DeliveredPush:
    path: str
    headers: dict[str, str]  # names in lower case (HTTP's are case-insensitive)
    body: bytes


def verify_vapid(authorization: str, audience: str) -> tuple[dict, str]:
    """The claims and the public key of a `vapid t=<jwt>, k=<key>` header, the signature checked.

    Raises AssertionError when the header is not a valid VAPID authorization for `audience`.
    """
    scheme, _, parameters = authorization.partition(" ")
    assert scheme.lower() == "vapid", f"not a VAPID authorization: {authorization[:40]}"
    values = dict(part.strip().split("=", 1) for part in parameters.split(","))
    token, public_key_text = values["t"], values["k"]
    header_part, claims_part, signature_part = token.split(".")
    header = json.loads(unbase64url(header_part))
    assert header["alg"] == "ES256", header
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unbase64url(public_key_text))
    signature = unbase64url(signature_part)
    assert len(signature) == 64, "an ES256 JWT signature is r and s, 32 bytes each"
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    # Raises InvalidSignature if the token was not signed by the key it names.
    public_key.verify(der, f"{header_part}.{claims_part}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(unbase64url(claims_part))
    assert claims["aud"] == audience, (claims["aud"], audience)
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600, "RFC 8292: expiry within 24 hours"
    return claims, public_key_text


def decrypt(delivered: DeliveredPush, keys: BrowserKeys) -> bytes:
    """The plaintext of an aes128gcm push message, decrypted as the browser does (RFC 8291)."""
    assert delivered.headers.get("content-encoding") == "aes128gcm", delivered.headers
    return http_ece.decrypt(
        delivered.body, private_key=keys.private_key, auth_secret=keys.auth_secret, version="aes128gcm"
    )


class LocalPushService:
    """An HTTP push service on 127.0.0.1 for one test: `with LocalPushService() as service:`."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.delivered: list[DeliveredPush] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {name.lower(): value for name, value in self.headers.items()}
                service.delivered.append(DeliveredPush(self.path, headers, self.rfile.read(length)))
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def __enter__(self) -> LocalPushService:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
