"""axe-core in the browser under test: injected by the test, never served by the site.

`npm ci` at the project root installs the pinned version (package.json) into
node_modules/; the site's pages and its Content Security Policy know nothing of it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from selenium import webdriver

AXE_SOURCE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# WCAG 2.0, 2.1 and 2.2, levels A and AA. No "best-practice" rules: the issue asks for
# WCAG conformance, and best practices are advice, not criteria.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

_RUN_AXE = """
const done = arguments[arguments.length - 1];
const summary = (rule) => ({
  id: rule.id,
  impact: rule.impact,
  help: rule.help,
  targets: rule.nodes.map((node) => node.target.join(" ")),
});
axe.run(document, {
  runOnly: {type: "tag", values: arguments[0]},
  rules: {"target-size": {enabled: true}},
  resultTypes: ["violations", "incomplete"],
}).then(
  (results) => done({
    violations: results.violations.map(summary),
    incomplete: results.incomplete.map(summary),
  }),
  (error) => done({error: String(error)}),
);
"""


@cache
def axe_source() -> str:
    if not AXE_SOURCE.exists():
        raise RuntimeError(
            f"{AXE_SOURCE} is missing: run `npm ci` at the project root to install axe-core "
            "(pinned in package.json) before the accessibility tests."
        )
    return AXE_SOURCE.read_text(encoding="utf-8")


def axe_check(driver: webdriver.Chrome) -> dict[str, list[dict]]:
    """Injects axe-core into the current page and checks it against WCAG 2.2 A/AA.

    Returns {"violations": [...], "incomplete": [...]}: each item is {"id", "impact",
    "help", "targets": [CSS selectors of the nodes]}. "incomplete" lists what axe could
    not decide by itself (e.g. contrast of text over an image): left for a person to check.
    """
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(60)
    result = driver.execute_async_script(_RUN_AXE, WCAG_TAGS)
    if isinstance(result, dict) and "error" in result:
        raise RuntimeError(f"axe-core failed on {driver.current_url}: {result['error']}")
    return result


def axe_violations(driver: webdriver.Chrome) -> list[dict]:
    """The current page's WCAG 2.2 A/AA violations according to axe-core."""
    return axe_check(driver)["violations"]
