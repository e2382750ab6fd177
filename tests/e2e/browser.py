"""A real headless Chromium for end-to-end tests (Debian's chromium + chromium-driver)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver")
TIMEOUT_SECONDS = 15


def new_browser(*, javascript: bool = True) -> webdriver.Chrome:
    """A fresh headless Chromium with its own profile; never reaches outside hosts."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise RuntimeError(
            f"The browser tests need {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={tempfile.mkdtemp(prefix='browser-profile-')}",
    ):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT_SECONDS * 2)
    return driver


def wait_for_text(driver: webdriver.Chrome, text: str, timeout: float = TIMEOUT_SECONDS) -> None:
    WebDriverWait(driver, timeout).until(_body_shows(text))


def _body_shows(text: str):
    """Whether the page's body shows `text`; False while a new page replaces the old one.

    Selenium's own condition waits through a stale element only, but ChromeDriver may also
    report the body that a navigation (a form just submitted) is replacing as "Node with
    given id does not belong to the document": that too means "look again".
    """

    return _looking_again(lambda driver: text in driver.find_element(By.TAG_NAME, "body").text)


def _looking_again(read):
    """`read(driver)`, or None while the element is being replaced (a live region swapped in
    by live.js, a body replaced by a navigation): the caller's wait then looks again."""

    def check(driver: webdriver.Chrome):
        try:
            return read(driver)
        except (StaleElementReferenceException, NoSuchElementException):
            return None
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return None
            raise

    return check


def text_of(driver: webdriver.Chrome, selector: str) -> str | None:
    """The text of the element `selector` finds now, or None while it is being replaced."""
    return _looking_again(lambda d: d.find_element(By.CSS_SELECTOR, selector).text)(driver)


def wait_for_element_text(
    driver: webdriver.Chrome, selector: str, expected: str, timeout: float = TIMEOUT_SECONDS
) -> None:
    """Wait until the element `selector` finds reads `expected`, finding it afresh each time."""
    try:
        WebDriverWait(driver, timeout).until(lambda d: text_of(d, selector) == expected)
    except TimeoutException:
        raise AssertionError(
            f"{selector} shows {text_of(driver, selector)!r}, not {expected!r}, after {timeout} s"
        ) from None


def wait_until_live_idle(driver: webdriver.Chrome, timeout: float = TIMEOUT_SECONDS) -> None:
    """Wait until the page's live updates are idle: its socket open and no refresh on its way
    (static/js/live.js marks <html data-live>)."""
    try:
        WebDriverWait(driver, timeout).until(
            lambda d: d.execute_script("return document.documentElement.dataset.live") == "idle"
        )
    except TimeoutException:
        dump_live_servers_threads()
        state = driver.execute_script(
            "const s = document.querySelector('[data-live-status]');"
            "return [document.documentElement.dataset.live, document.documentElement.dataset.liveRefreshes,"
            " s ? s.textContent.trim() : null];"
        )
        raise AssertionError(
            f"{driver.current_url} not live and idle after {timeout} s: state {state[0]!r},"
            f" {state[1]} refreshes done, the indicator says {state[2]!r}"
            " (the live server's threads are in the captured stderr)"
        ) from None


def dump_live_servers_threads() -> None:
    """Ask every live server forked by this test process to print its threads' stacks
    (tests/conftest.py registers the signal in each forked child)."""
    for child in multiprocessing.active_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGUSR1)
    time.sleep(1)


def log_in(
    driver: webdriver.Chrome, base_url: str, username: str, password: str, *, second_step: bool = True
) -> None:
    """The login form; for a coordinator, referrer or staff member then the second step, with
    the code an authenticator app computes from the known secret they are enrolled with."""
    from mutualaid.accounts.models import User
    from mutualaid.accounts.two_factor import role_requires_two_factor
    from tests.conftest import enrol

    person = User.objects.get(username=username)
    needs_a_code = role_requires_two_factor(person)
    if needs_a_code:
        enrol(person)  # their phone's app, set up with the known secret
    driver.get(f"{base_url}/accounts/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for_text(driver, "Log out")
    if needs_a_code and second_step:
        type_one_time_code(driver, person)


def set_up_authenticator(driver: webdriver.Chrome) -> list[str]:
    """On the enrolment page, what someone without a camera does: type the key the page shows
    into their app, then the app's code. The recovery codes shown next."""
    import base64

    from django_otp.oath import TOTP

    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, "secret-key"))
    typed = driver.find_element(By.ID, "secret-key").text.replace(" ", "")
    key = base64.b32decode(typed + "=" * (-len(typed) % 8))
    driver.find_element(By.NAME, "otp_token").send_keys(f"{TOTP(key).token():06d}")
    driver.find_element(By.CSS_SELECTOR, "main form[method=post] button[type=submit]").click()
    wait_for_text(driver, "Keep these codes somewhere safe")
    return [item.text for item in driver.find_elements(By.CSS_SELECTOR, ".recovery-codes code")]


def type_one_time_code(driver: webdriver.Chrome, person) -> None:
    """On the code page: type what the person's authenticator shows now, and go on."""
    from tests.conftest import one_time_code

    WebDriverWait(driver, 15).until(lambda d: "/accounts/two-factor/verify/" in d.current_url)
    field = driver.find_element(By.NAME, "otp_token")
    field.send_keys(one_time_code(person))
    field.find_element(By.XPATH, "./ancestor::form").find_element(
        By.CSS_SELECTOR, "button[type=submit]"
    ).click()
    WebDriverWait(driver, 15).until(lambda d: "/accounts/two-factor/" not in d.current_url)


class SignedInBrowsers:
    """For a live-server test case: `browser_for(username)` opens a headless Chromium signed
    in as that person (with or without JavaScript, as the class says); each one opened is
    closed when the test ends, whatever happened."""

    live_server_url: str
    javascript: bool = True

    def open_browser(self, *, javascript: bool | None = None) -> webdriver.Chrome:
        """A headless Chromium nobody is signed in to yet (JavaScript as the class says, unless
        told), closed when the test ends."""
        browser = new_browser(javascript=self.javascript if javascript is None else javascript)
        self.addCleanup(browser.quit)
        return browser

    def browser_for(self, username: str, *, javascript: bool | None = None) -> webdriver.Chrome:
        from tests.conftest import PASSWORD

        browser = self.open_browser(javascript=javascript)  # closed also when signing in fails
        log_in(browser, self.live_server_url, username, PASSWORD)
        return browser
