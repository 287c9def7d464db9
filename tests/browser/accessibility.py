"""axe-core (vendored in tests/vendor/axe-core) run on the page Chromium shows.

The script is injected into the page by the test (WebDriver's script execution is not
subject to the page's Content-Security-Policy), never served by the district. `audit()`
runs every rule of axe's WCAG 2.x A and AA sets and best practices and returns the
violations of impact serious or critical; `describe()` writes them for a failure message:
the rule, its help URL and each offending node's selector and HTML.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from tests.browser.chromium_driver import Chromium

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = frozenset({"serious", "critical"})
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(results => done({violations: results.violations}))
  .catch(error => done({error: String(error)}));
"""


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def audit(chromium: Chromium) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the current page."""
    driver = chromium.driver
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(_source())
    answer = driver.execute_async_script(_RUN, TAGS)
    assert "error" not in answer, f"axe failed: {answer['error']}"
    return [v for v in answer["violations"] if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}\n"
            f"  {violation['helpUrl']}"
        )
        for node in violation["nodes"][:10]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:200]}")
            if node.get("failureSummary"):
                summary = node["failureSummary"].replace("\n", " ")
                lines.append(f"      {summary[:300]}")
        if len(violation["nodes"]) > 10:
            lines.append(f"    … and {len(violation['nodes']) - 10} more")
    return "\n".join(lines)
