"""Headless Debian Chromium driven by Playwright (the ``browser`` and ``page``
fixtures are in tests/conftest.py): how to launch it, sign in, and see every
Content-Security-Policy violation a page reports, across navigations."""

from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "secret-password-1"  # the factory's


def log_in(page: Any, base: str, user: Any, *, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit], input[type=submit]")


# Runs in every document before its own scripts (an init script, which the
# policy does not govern), so no violation happens unseen. Each one goes to
# the test at once through a binding: a later navigation cannot lose it.
_LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const violation = {
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
    page: location.href,
  };
  window.__cspViolations.push(violation);
  window.__reportCspViolation(violation);
});
"""


class CspViolations:
    """The violations of one page (tab), from its ``securitypolicyviolation``
    events and the browser's console messages about the policy (which also
    cover workers, where the document's listener cannot hear)."""

    def __init__(self, page: Any) -> None:
        self._page = page
        self._events: list[dict[str, Any]] = []
        self._console: list[str] = []
        page.expose_function("__reportCspViolation", self._on_violation)
        page.add_init_script(_LISTEN)
        page.on("console", self._on_console)

    def _on_violation(self, violation: dict[str, Any]) -> None:
        self._events.append(violation)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self._console.append(message.text)

    def all(self) -> list[Any]:
        # Violation events are dispatched as tasks after the fact: let the
        # page run a moment so the last ones have come through the binding.
        self._page.wait_for_timeout(300)
        return [*self._events, *self._console]
