"""A local stand-in for Twilio's Messages API, started by a test on a free port: POST
/2010-04-01/Accounts/{sid}/Messages.json with basic auth and form fields To, From, Body;
a JSON answer with sid and status, or Twilio's JSON error shape."""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")


class TwilioStandIn:
    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.received: list[dict[str, str]] = []
        # Answers to give before the normal one: (HTTP status, Twilio error code, message).
        self.failures: list[tuple[int, int, str]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                stand_in._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> TwilioStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler, status: int, code: int, message: str) -> None:
        self._reply(
            handler,
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        match = MESSAGES_PATH.match(handler.path)
        length = int(handler.headers.get("Content-Length", "0"))
        form = {name: values[0] for name, values in parse_qs(handler.rfile.read(length).decode()).items()}
        if match is None:
            return self._error(handler, 404, 20404, "The requested resource was not found")
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if match["sid"] != self.account_sid or handler.headers.get("Authorization") != expected:
            return self._error(handler, 401, 20003, "Authenticate")
        if not all(form.get(field) for field in ("To", "From", "Body")):
            return self._error(handler, 400, 21604, "A 'To' phone number is required.")
        if self.failures:
            status, code, message = self.failures.pop(0)
            return self._error(handler, status, code, message)
        self.received.append(form)
        sid = f"SM{len(self.received):032d}"
        self._reply(
            handler,
            201,
            {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"], "body": form["Body"]},
        )
