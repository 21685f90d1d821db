"""Never replay a state-changing request into the origin the sessions were recorded on.

Replaying an order placement into production by accident must be impossible with the defaults:
a test with an unsafe step is skipped, with a reason saying how to force it, when the target (or
the baseline) is the recorded origin.
"""

from __future__ import annotations

from trodden.assertions.templates import UNSAFE_METHODS, is_unsafe, origin_of
from trodden.models.suite import BrowserStep, HttpStep, Suite, TestCase


def browser_step_unsafe(step: BrowserStep) -> str | None:
    """The first state-changing request a browser step made when it was recorded."""
    return next((e for e in step.network if e.split(" ", 1)[0].upper() in UNSAFE_METHODS), None)


def unsafe_steps(test: TestCase, suite: Suite) -> list[tuple[str, str]]:
    """(step id, "METHOD /route") of every step that changes state, login steps included."""
    login_steps = [s for p in suite.auth_profiles if p.name == test.auth_profile for s in p.login]
    found: list[tuple[str, str]] = []
    for step in [*login_steps, *test.steps]:
        if isinstance(step, HttpStep):
            if is_unsafe(step):
                found.append((step.id, f"{step.request.method.upper()} {step.endpoint.split(' ', 1)[-1]}"))
        else:
            endpoint = browser_step_unsafe(step)
            if endpoint is not None:
                found.append((step.id, endpoint))
    return found


def third_party_unsafe(test: TestCase, suite: Suite) -> HttpStep | None:
    """An unsafe step whose URL is absolute on an origin that is neither templated nor the
    recorded one: replaying it would send a state change to a third party."""
    recorded = origin_of(suite.origin) if suite.origin else None
    for step in test.steps:
        if isinstance(step, HttpStep) and is_unsafe(step):
            url = step.request.url
            absolute = url.startswith(("http://", "https://")) and "{{" not in url.split("/", 3)[2]
            if absolute and origin_of(url) != recorded:
                return step
    return None


def skip_reason(test: TestCase, suite: Suite, urls: list[str], allow_unsafe_on_origin: bool) -> str | None:
    """Why `test` must not run against any of `urls` (target, baseline), or None."""
    foreign = third_party_unsafe(test, suite)
    if foreign is not None:
        return (
            f"unsafe step {foreign.id} ({foreign.request.method.upper()}) goes to the third party "
            f"{origin_of(foreign.request.url)}: never replayed"
        )
    if allow_unsafe_on_origin or not suite.origin:
        return None
    recorded = origin_of(suite.origin)
    hits = [u for u in urls if origin_of(u) == recorded]
    if not hits:
        return None
    steps = unsafe_steps(test, suite)
    if not steps:
        return None
    step_id, endpoint = steps[0]
    return (
        f"unsafe step {step_id} ({endpoint}) is not replayed against the recorded origin {recorded};"
        " pass --allow-unsafe-on-origin to force it"
    )
