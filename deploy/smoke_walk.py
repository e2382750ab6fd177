"""The main path through nginx over HTTPS, as people take it (called by deploy/ci_smoke.sh).

A citizen signs up and posts a request; the volunteer (created by ci_smoke.sh) hears the
proposal on their live socket (wss through nginx), accepts it over that socket, and the
citizen's socket hears it and their page shows "accepted". Then what nginx itself must do:
static files, oversize bodies and URLs refused, plain HTTP redirected, /metrics closed to
the outside through the proxy. Standard library and the project's `websockets` only.

Environment: SMOKE_PORT, SMOKE_HTTP_PORT, SMOKE_HOST, SMOKE_COMMUNITY_ID, SMOKE_VOLUNTEER,
SMOKE_PASSWORD, METRICS_TOKEN; SMOKE_BROWSER=1 also opens the citizen's page in a headless
Chromium (Debian's chromium and chromium-driver) and waits for the acceptance to appear there
without a reload: the page's script, its socket (wss through nginx) and its refresh.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import os
import re
import ssl
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from websockets.asyncio.client import connect

PORT = int(os.environ["SMOKE_PORT"])
HOST = os.environ.get("SMOKE_HOST", "localhost")
ORIGIN = f"https://{HOST}:{PORT}"
EVENT_SECONDS = 60  # a matching run after the trigger: the worker wakes at once, debounce 2 s
TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE  # the smoke test's self-signed certificate


def step(message: str) -> None:
    print(f"    {message}", flush=True)


class Browser:
    """Cookies and CSRF like a browser, one HTTPS connection per request to nginx."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict | None = None, headers: dict | None = None, body=None
    ):
        connection = http.client.HTTPSConnection("127.0.0.1", PORT, context=TLS, timeout=30)
        all_headers = {"Host": f"{HOST}:{PORT}", "Origin": ORIGIN, "Referer": ORIGIN + "/"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            form = form | {"csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urlencode(form, doseq=True)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        all_headers |= headers or {}
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response, text

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict):
        self.get(path)  # the form page first: the CSRF cookie
        return self.request("POST", path, form=form)

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"smoke walk FAILED: {what}")


async def next_event(websocket, wanted, what: str) -> dict:
    try:
        async with asyncio.timeout(EVENT_SECONDS):
            while True:
                message = json.loads(await websocket.recv())
                if wanted(message):
                    return message
    except TimeoutError:
        raise SystemExit(f"smoke walk FAILED: {what}: nothing within {EVENT_SECONDS} s") from None


def open_socket(browser: Browser):
    return connect(
        f"wss://{HOST}:{PORT}/ws/updates/",
        host="127.0.0.1",
        port=PORT,
        ssl=TLS,
        server_hostname=HOST,
        origin=ORIGIN,
        additional_headers={"Cookie": browser.cookie_header()},
        open_timeout=15,
    )


async def main_path() -> None:
    password = "a-long-smoke-test-password-42"
    citizen, volunteer = Browser(), Browser()
    response, text = citizen.post(
        "/accounts/signup/",
        {
            "username": "smoke-citizen",
            "first_name": "Smoke",
            "last_name": "Citizen",
            "email": "smoke-citizen@example.org",
            "phone": "+32 470 00 00 01",
            "community": os.environ["SMOKE_COMMUNITY_ID"],
            "preferred_language": "en",
            "password1": password,
            "password2": password,
        },
    )
    expect(
        response.status == 302 and "sessionid" in citizen.cookies, f"sign-up: {response.status} {text[:300]}"
    )
    step("citizen signed up (through nginx, HTTPS, CSRF)")

    response, text = volunteer.post(
        "/accounts/login/",
        {"username": os.environ["SMOKE_VOLUNTEER"], "password": os.environ["SMOKE_PASSWORD"]},
    )
    expect(response.status == 302 and "sessionid" in volunteer.cookies, f"volunteer login: {response.status}")
    step("volunteer logged in")

    browser = None
    async with open_socket(volunteer) as volunteer_socket, open_socket(citizen) as citizen_socket:
        step("both live sockets open (wss through nginx)")
        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        started = time.monotonic()
        response, text = citizen.post(
            "/requests/new/",
            {
                "category": os.environ["SMOKE_CATEGORY_ID"],
                "description": "Groceries for the week, please.",
                "urgency": "1",
                "address": "Naamsestraat 12, 3000 Leuven",
                "window_1_date": tomorrow,
                "window_1_part": "0",
            },
        )
        location = response.headers.get("Location", "")
        found = re.search(r"/requests/(\d+)/", location)
        expect(
            response.status == 302 and found, f"posting a request: {response.status} {location} {text[:300]}"
        )
        request_id = int(found.group(1))
        step(f"citizen posted request {request_id}")

        event = await next_event(
            volunteer_socket,
            lambda m: (
                m.get("type") == "task.changed"
                and m.get("request") == request_id
                and m.get("status") == "proposed"
            ),
            "the proposal on the volunteer's socket",
        )
        step(f"volunteer's socket: {event} after {time.monotonic() - started:.1f} s")

        if os.environ.get("SMOKE_BROWSER") == "1":
            browser = await asyncio.to_thread(open_the_page_in_chromium, citizen, request_id)
            step("Chromium shows the citizen's page, its live socket idle (wss through nginx)")

        response, inbox = volunteer.get("/volunteer/inbox/")
        tasks = re.findall(r"/volunteer/tasks/(\d+)/", inbox)
        expect(response.status == 200 and tasks, f"the inbox lists the task: {response.status}")
        assignment_id = int(tasks[0])
        await volunteer_socket.send(json.dumps({"action": "accept", "assignment": assignment_id}))
        answer = await next_event(
            volunteer_socket, lambda m: m.get("type") == "action.result", "the answer to accept"
        )
        expect(answer.get("ok") is True, f"accept over the socket: {answer}")
        step(f"volunteer accepted assignment {assignment_id} over the socket")

        event = await next_event(
            citizen_socket,
            lambda m: m.get("request") == request_id and m.get("status") == "accepted",
            "the acceptance on the citizen's socket",
        )
        step(f"citizen's socket: {event}")
        if browser is not None:
            try:
                await asyncio.to_thread(wait_for_text, browser, "A volunteer is coming", 60)
            finally:
                browser.quit()
            step("Chromium: the page changed to 'A volunteer is coming' by itself (no reload)")

    response, page = citizen.get(f"/requests/{request_id}/")
    expect(
        response.status == 200 and "status-accepted" in page, "the citizen's page shows the accepted state"
    )
    expect("A volunteer is coming" in page, "the citizen's page says a volunteer is coming")
    expect(response.headers.get("Cache-Control") == "no-store", "a personal page is not cached")
    expect("max-age" in (response.headers.get("Strict-Transport-Security") or ""), "HSTS on HTTPS pages")
    step("citizen's page: 'A volunteer is coming' (Cache-Control: no-store, HSTS)")

    # Static files come from nginx (STATIC_ROOT), hashed and compressed.
    static = re.search(r'/static/[^"]+\.[0-9a-f]{12}\.css', page)
    expect(static is not None, "a hashed stylesheet on the page")
    response, _ = citizen.get(static.group(0), headers={"Accept-Encoding": "gzip"})
    expect(
        response.status == 200 and "immutable" in (response.headers.get("Cache-Control") or ""), "static file"
    )
    expect(response.headers.get("Content-Encoding") == "gzip", "nginx serves the .gz collectstatic wrote")
    step(f"static file from nginx: {static.group(0)} (gzip, immutable)")


def open_the_page_in_chromium(citizen: Browser, request_id: int):
    """A headless Chromium signed in as the citizen, on their request's page, socket idle."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.e2e.browser import new_browser

    driver = new_browser()
    try:
        # The self-signed certificate, and "localhost" on the IPv4 loopback nginx listens on.
        driver.execute_cdp_cmd("Security.setIgnoreCertificateErrors", {"ignore": True})
        driver.get(f"{ORIGIN}/healthz")
        driver.add_cookie({"name": "sessionid", "value": citizen.cookies["sessionid"], "secure": True})
        driver.get(f"{ORIGIN}/requests/{request_id}/")
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.documentElement.dataset.live") == "idle"
        )
        expect("Proposed to a volunteer" in driver.page_source, "the browser shows the proposal first")
    except BaseException:
        driver.quit()
        raise
    return driver


def wait_for_text(driver, text: str, seconds: float) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def nginx_limits() -> None:
    browser = Browser()
    response, _ = browser.request("POST", "/accounts/login/", body=b"x" * (2 * 1024 * 1024))
    expect(response.status == 413, f"a 2 MB body: {response.status}")
    response, _ = browser.get("/?" + "a" * 10_000)
    expect(response.status == 414, f"a 10 kB URL: {response.status}")
    step("nginx refuses a 2 MB body (413) and a 10 kB URL (414)")

    connection = http.client.HTTPConnection("127.0.0.1", int(os.environ["SMOKE_HTTP_PORT"]), timeout=10)
    connection.request("GET", "/requests/", headers={"Host": HOST})
    response = connection.getresponse()
    expect(response.status == 301 and response.headers["Location"].startswith("https://"), "HTTP -> HTTPS")
    connection.close()
    step("plain HTTP is redirected to HTTPS (301)")

    response, _ = browser.get("/metrics")
    expect(response.status == 403, f"/metrics through the proxy without the token: {response.status}")
    token = os.environ["METRICS_TOKEN"]
    response, text = browser.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    expect(response.status == 200 and "mutualaid_help_requests" in text, "/metrics with the token")
    accepted = re.search(r'^mutualaid_help_requests\{status="accepted"\} (\S+)$', text, flags=re.MULTILINE)
    expect(accepted is not None and float(accepted.group(1)) == 1.0, "metrics count the accepted request")
    step("/metrics through nginx: 403 without the token, 200 with it (1 accepted request)")


if __name__ == "__main__":
    asyncio.run(main_path())
    nginx_limits()
    print("    smoke walk passed", flush=True)
    sys.exit(0)
