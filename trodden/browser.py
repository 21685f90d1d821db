"""Launching Chromium for Playwright the same way everywhere (rum.js tests, browser replay,
simulated users): the system's Chromium, since Playwright cannot download its own browser here.
And what a browser step's locators and actions mean in Playwright, for browser replay (async API)
and the exported pytest files (sync API) alike: locator factories are synchronous in both.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trodden.models.suite import Locator

# Without the background-networking flags Chromium keeps dialling Google hosts, which a closed
# network refuses many times a second.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str | None:
    """`$PLAYWRIGHT_CHROMIUM_EXECUTABLE`, else Debian's chromium, else Playwright's own (None)."""
    explicit = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE")
    if explicit:
        return explicit
    return shutil.which("chromium") or shutil.which("chromium-browser")


async def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """`await launch_chromium(pw)` with `pw` from `async_playwright()`; returns the Browser."""
    return await playwright.chromium.launch(
        executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS, **kwargs
    )


def describe_locator(loc: Locator) -> str:
    return f"{loc.strategy}={loc.value}" + (f" (name {loc.name})" if loc.name else "")


def to_playwright(page: Any, loc: Locator) -> Any:
    """The Playwright locator of a suite `Locator` on `page` (a sync or an async Page)."""
    if loc.strategy == "test_id":
        return page.get_by_test_id(loc.value)
    if loc.strategy == "role":
        return page.get_by_role(loc.value, name=loc.name) if loc.name else page.get_by_role(loc.value)
    if loc.strategy == "label":
        return page.get_by_label(loc.value)
    if loc.strategy == "text":
        return page.get_by_text(loc.value)
    if loc.strategy == "xpath":
        return page.locator(f"xpath={loc.value}")
    if loc.strategy == "id":
        return page.locator(f'[id="{loc.value}"]')
    return page.locator(loc.value)


def exact_first(page: Any, loc: Locator) -> list[Any]:
    """The Playwright locators to try for a suite `Locator`, best first. A recorded text or
    accessible name is the element's whole text: an element that shows exactly it comes before one
    that merely contains it (Playwright matches substrings, so the button "Go" would find the
    heading "Django administration" first, the page link "2" a link "2019"). The loose match stays
    for texts the recorder clipped or spelled otherwise."""
    loose = to_playwright(page, loc)
    if loc.strategy == "text":
        return [page.get_by_text(loc.value, exact=True), loose]
    if loc.strategy == "role" and loc.name:
        return [page.get_by_role(loc.value, name=loc.name, exact=True), loose]
    return [loose]


def submits_form_script(action: str) -> str:
    """JS for `element.evaluate`: whether clicking (or pressing Enter in) the element submits a
    form by the browser's own rules (the recording then holds a `submit` step for the same action)."""
    submits = "el.type === 'submit' || el.type === 'image'" if action == "click" else "el.tagName === 'INPUT'"
    return f"el => !!el.form && ({submits})"


# JS for `element.evaluate` of a `submit` step: submit the element's form (or the form itself).
SUBMIT_SCRIPT = (
    "el => { const f = el.form || (el.tagName === 'FORM' ? el : null);"
    " if (f) { f.requestSubmit ? f.requestSubmit() : f.submit(); } else { el.click(); } }"
)
