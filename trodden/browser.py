"""Launching Chromium for Playwright the same way everywhere (rum.js tests, browser replay,
simulated users): the system's Chromium, since Playwright cannot download its own browser here."""

from __future__ import annotations

import os
import shutil
from typing import Any

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
