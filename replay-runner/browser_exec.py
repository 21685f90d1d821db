"""Browser tests in Chromium through Playwright.

Each attempt gets a fresh browser context (cookies, storage) in the run's one Chromium. Locators
are tried in the order the suite lists them, waiting for the page as Playwright does; the network
is observed so that mined assertions on the endpoints a page calls are judged like HTTP steps,
and the order of those calls feeds the temporal rules. A step is judged (and the next one run)
only once the page has answered the requests the recording saw by then, not merely after a quiet
moment: a page's own work between a response and its next request is not network activity. On a
failure the page is photographed and its console errors are attached to the failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response, Route, ViewportSize
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator as PwLocator

from trodden.assertions import Observation, page_url_matches
from trodden.assertions.pointer import MISSING
from trodden.assertions.templates import (
    SAFE_METHODS,
    MissingVariable,
    extract,
    parse_body,
    render,
    render_url,
    request_body,
    request_headers,
    target_base,
)
from trodden.browser import SUBMIT_SCRIPT, describe_locator, exact_first, submits_form_script
from trodden.models.suite import BrowserStep, HttpStep, Locator, TestCase
from trodden.pages import page_url
from trodden.replay.execution import AuthError, Execution, SuiteEnv, resolve_value
from trodden.replay.oracles import check_expectation
from trodden.replay.pages import CONSOLE_TEXTS, MUTATIONS_INIT, PAGE_METHOD, PageReader, page_endpoint
from trodden.replay.results import Failure, StepRecord

_POLL_S = 0.1
_QUIET_S = 0.15  # network quiet this long after a step = the page settled
# ... unless the recording saw more requests by then: those are waited for while the page is
# quiet this long at most. A page's own work between a response and its next request takes tens
# to hundreds of ms on a busy machine; a request a new version no longer makes costs this once.
_GAVE_UP_QUIET_S = 2.0
# Actions after which the page may start requests of its own. Typing (`fill`) is left out: the
# quiet period it would cost adds up over a form, and a request the recording saw after typing
# is waited for anyway (`_Network.settle`).
_MAY_REQUEST = frozenset({"goto", "click", "press", "submit", "select", "check"})
# Pointer actions, before which the element is scrolled to the middle of the viewport (`_centre`).
_POINTER = frozenset({"click", "check"})
# Where a user sees what they click: the middle of the window. Playwright scrolls an element only
# until it is in view, i.e. to an edge, where a fixed header or footer can cover it (kinto-admin's
# navigation bar covers its breadcrumb after the page scrolled): the click then waits for an
# element that "intercepts pointer events" until it times out, on one side only as layout and
# timing allow.
_CENTRE_SCRIPT = "el => el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'})"
# The window a browser test replays in: a desktop's, Playwright's default, as the exported pytest
# files (`synthesis/export.py`) and the simulated users that recorded the sessions have. A narrower
# one lays responsive pages out otherwise than users saw them: at 1024 px kinto-admin's session bar
# ("Connected as … on http://host:port/v1/") wraps, as the port's digits allow, and covers the
# breadcrumb, whose recorded click then timed out on every side (a test that verified nothing).
VIEWPORT = ViewportSize(width=1280, height=720)
# The page's request context sets these itself (fewer than the HTTP client drops: Playwright
# forwards the rest as they are).
_DROP_HEADERS = frozenset({"host", "content-length", "connection", "cookie", "accept-encoding"})


async def find(page: Page, locators: list[Locator], timeout_s: float) -> tuple[int, PwLocator] | None:
    """The first listed locator that shows a visible element, waiting up to `timeout_s` for any.
    Earlier locators win whenever they match, so a fallback is used only when needed."""
    deadline = time.monotonic() + timeout_s
    candidates = [(index, c) for index, loc in enumerate(locators) for c in exact_first(page, loc)]
    while True:
        for index, candidate in candidates:
            try:
                first = candidate.first
                if await first.is_visible():
                    return index, first
            except PlaywrightError:
                continue  # an invalid selector in a recording must not hide the next one
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(_POLL_S)


@dataclass
class _Seen:
    request: Request
    step_id: str | None
    started: float
    endpoint: str
    response: Response | None = None
    elapsed_ms: float = 0.0
    body_task: asyncio.Task[bytes | None] | None = None
    # the answer to asking once more (a safe request the page got a 503 for: `_Network.on_response`)
    again: asyncio.Task[_Again | None] | None = None
    done: bool = False  # finished (answered or failed): counted in `_Network.finished`


@dataclass
class _Again:
    status: int
    headers: dict[str, str]
    body: bytes


# A safe request answered 503 "Service Unavailable" (RFC 9110 15.6.4: overloaded for now) is asked
# once more, as HTTP steps do (`http_exec._unavailable`), and the second answer is what is judged:
# Kinto's health check, fetched by kinto-admin on every page, answers 503 when its concurrent
# checks overrun under load, on any side, and the two baselines can share it by chance.
_UNAVAILABLE_CONSOLE = "the server responded with a status of 503"


@dataclass
class _Network:
    """What the page requested, in order; only requests on endpoints the suite knows."""

    env: SuiteEnv
    want_body: set[str]
    step_id: str | None = None
    seen: list[_Seen] = field(default_factory=list)
    by_request: dict[int, _Seen] = field(default_factory=dict)
    inflight: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    console_errors: list[str] = field(default_factory=list)
    bodies: dict[int, bytes] = field(default_factory=dict)  # by id(request), read in the route
    # Endpoints the recording saw the page request up to the current step (cumulative: a request
    # the recording attributed to the neighbouring step still counts), and those this page's
    # requests have finished on (answered or failed).
    expected: Counter[str] = field(default_factory=Counter)
    finished: Counter[str] = field(default_factory=Counter)
    context: BrowserContext | None = None  # to ask a request once more

    def on_request(self, request: Request) -> None:
        self.inflight += 1
        self.last_activity = time.monotonic()
        endpoint = self.env.routes.match(request.method, request.url)
        if endpoint is not None and request.resource_type in ("fetch", "xhr", "document"):
            entry = _Seen(request, self.step_id, time.perf_counter(), endpoint)
            self.seen.append(entry)
            self.by_request[id(request)] = entry

    def on_response(self, response: Response) -> None:
        entry = self.by_request.get(id(response.request))
        if entry is None:
            return
        entry.response = response
        entry.elapsed_ms = (time.perf_counter() - entry.started) * 1000.0
        if response.status == 503 and response.request.method in SAFE_METHODS and self.context is not None:
            entry.again = asyncio.ensure_future(_ask_again(self.context, response.request))
        if entry.endpoint in self.want_body and id(response.request) not in self.bodies:
            entry.body_task = asyncio.ensure_future(_body(response))

    async def on_route(self, route: Route) -> None:
        """Fetch the response of a request whose body assertions need, keep the body, and hand
        the response to the page unchanged: reading it later fails once the page navigated."""
        request = route.request
        if request.resource_type not in ("fetch", "xhr"):
            await route.fallback()
            return
        try:
            response = await route.fetch(max_redirects=0)
            body = self.bodies[id(request)] = await response.body()
            await route.fulfill(response=response, body=body)
        except PlaywrightError:
            with contextlib.suppress(PlaywrightError):
                await route.fallback()

    def on_console(self, message: ConsoleMessage) -> None:
        # A missing favicon is the browser's business, not the application's.
        # A 503 of a safe request is judged by the request's own observation, asked once more.
        if (
            message.type == "error"
            and not str(message.location.get("url", "")).endswith("/favicon.ico")
            and _UNAVAILABLE_CONSOLE not in message.text
        ):
            self.console_errors.append(message.text)

    def on_done(self, request: Request) -> None:
        self.inflight = max(0, self.inflight - 1)
        self.last_activity = time.monotonic()
        entry = self.by_request.get(id(request))
        if entry is not None:
            entry.done = True
            self.finished[entry.endpoint] += 1

    def forget(self, step_id: str, errors_from: int) -> None:
        """Drop what a step's page did so far (its requests and console errors): it loads again."""
        for entry in self.seen:
            if entry.step_id == step_id and entry.done:
                self.finished[entry.endpoint] -= 1
        self.seen = [e for e in self.seen if e.step_id != step_id]
        self.by_request = {k: e for k, e in self.by_request.items() if e.step_id != step_id}
        del self.console_errors[errors_from:]

    def _awaiting(self) -> bool:
        return any(self.finished[endpoint] < n for endpoint, n in self.expected.items())

    async def settle(self, timeout_s: float, recorded: list[str], acted_at: float | None) -> None:
        """Wait until the requests the recording saw up to this step (`recorded`: this step's)
        have finished here too, and then until no request is in flight for a short quiet period
        (cheaper than Playwright's 500 ms "networkidle") that began after the action
        (`acted_at`, monotonic; None when the step did nothing itself); or until the timeout.

        A quiet period alone is not enough: the page's own work between a response and its next
        request (parsing, a redirect by script, a busy machine) is quiet too, and a test judged
        or navigated away then loses the requests that follow (a checkout whose order page was
        never fetched broke "POST /api/checkout is always followed by GET /api/orders/{id}" on
        an unchanged shop). What the recording saw and this page never requests is waited for
        once, until the network has been quiet for `_GAVE_UP_QUIET_S` (or the timeout), and not
        again at later steps."""
        self.expected.update(recorded)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            quiet_for = time.monotonic() - max(self.last_activity, acted_at or 0.0)
            if self.inflight == 0 and quiet_for >= _QUIET_S:
                if not self._awaiting():
                    return
                if quiet_for >= _GAVE_UP_QUIET_S:
                    break  # the page stopped asking: the missing request is not coming
            await asyncio.sleep(0.03)
        self.expected &= self.finished  # a missing request is the oracles' business, not a wait's

    async def observations(self, key_prefix: str) -> list[Observation]:
        out: list[Observation] = []
        counts: dict[tuple[str | None, str], int] = {}
        for entry in self.seen:
            if entry.response is None:
                continue
            raw = self.bodies.get(id(entry.request))
            if raw is None and entry.body_task is not None:
                raw = await entry.body_task
            headers = {k.lower(): v for k, v in (await _headers(entry.response)).items()}
            status = entry.response.status
            again = await entry.again if entry.again is not None else None
            if again is not None:
                status, headers, raw = again.status, again.headers, again.body
            body, is_json = parse_body(raw, headers.get("content-type", "")) if raw else (MISSING, False)
            # A body the browser would not give back is unknown, not empty: rules on it do not apply.
            body_read = raw is not None or entry.endpoint not in self.want_body
            n = counts.get((entry.step_id, entry.endpoint), 0)
            counts[(entry.step_id, entry.endpoint)] = n + 1
            out.append(
                Observation(
                    method=entry.request.method,
                    url=entry.request.url,
                    endpoint=entry.endpoint,
                    status=status,
                    headers=headers,
                    body=body,
                    duration_ms=entry.elapsed_ms,
                    step_id=entry.step_id,
                    is_json=is_json,
                    key=f"{key_prefix}{entry.step_id}#{entry.endpoint}#{n}",
                    authorized="authorization" in entry.request.headers,
                    body_read=body_read,
                    in_browser=True,
                )
            )
        return out


def _timed_out(exc: PlaywrightError) -> bool:
    return "Timeout" in type(exc).__name__ or "timeout" in str(exc).splitlines()[0][:300].lower()


async def _body(response: Response) -> bytes | None:
    try:
        return await response.body()
    except PlaywrightError:
        return None  # the page navigated away before the body could be read


async def _ask_again(context: BrowserContext, request: Request) -> _Again | None:
    """The same safe request once more, through the page's context (its cookies), after a pause."""
    await asyncio.sleep(0.5)
    try:
        headers = {
            k: v
            for k, v in (await request.all_headers()).items()
            if k.lower() not in _DROP_HEADERS and not k.startswith(":")
        }
        response = await context.request.fetch(
            request.url, method=request.method, headers=headers, max_redirects=0, timeout=10_000
        )
        return _Again(response.status, {k.lower(): v for k, v in response.headers.items()}, await response.body())
    except PlaywrightError:
        return None  # the context closed, or no answer: the page's own 503 stands


async def _headers(response: Response) -> dict[str, str]:
    try:
        return await response.all_headers()
    except PlaywrightError:
        return dict(response.headers)


async def _submits_form(element: PwLocator, action: str, key: str | None) -> bool:
    """Whether clicking (or pressing Enter in) `element` submits a form by the browser's own rules."""
    if action == "press" and (key or "Enter") != "Enter":
        return False
    try:
        return bool(await element.evaluate(submits_form_script(action)))
    except PlaywrightError:
        return False


async def _centre(element: PwLocator) -> None:
    """Scroll the element to the middle of the viewport (see `_CENTRE_SCRIPT`); the action still
    waits for it as Playwright does when this cannot be done."""
    with contextlib.suppress(PlaywrightError):
        await element.evaluate(_CENTRE_SCRIPT, timeout=2000)


class BrowserRunner:
    def __init__(self, env: SuiteEnv, browser: Browser, target: str, key_prefix: str = "") -> None:
        # True when the last action submitted a form by itself (a click on a submit button, Enter
        # in a form field): the recording then holds a `submit` step for the same user action.
        self.submitted = False
        self.env = env
        self.browser = browser
        self.target = target
        self.key_prefix = key_prefix
        self.artifacts = env.options.report_dir

    async def run(self, test: TestCase) -> Execution:
        want_body = {a.endpoint for a in self.env.suite.assertions if a.reads_body}
        context = await self.browser.new_context(ignore_https_errors=True, viewport=VIEWPORT)
        net = _Network(self.env, want_body, context=context)
        await context.add_init_script(MUTATIONS_INIT)
        try:
            if want_body:
                await context.route(lambda url: self.env.routes.path_matches(url, want_body), net.on_route)
            page = await context.new_page()
            page.on("request", net.on_request)
            page.on("response", net.on_response)
            page.on("requestfinished", net.on_done)
            page.on("requestfailed", net.on_done)
            page.on("console", net.on_console)
            page.on("pageerror", lambda e: net.console_errors.append(f"uncaught: {e}"))
            pages: list[Observation] = []
            out = await self._steps(test, page, context, net, pages)
            out.observations = await net.observations(self.key_prefix) + pages
            return out
        finally:
            await context.close()

    async def _steps(
        self, test: TestCase, page: Page, context: BrowserContext, net: _Network, pages: list[Observation]
    ) -> Execution:
        out = Execution()
        reader = PageReader()
        variables: dict[str, Any] = {**test.variables, **self._credentials(test), "origin": target_base(self.target)}
        for step in test.steps:
            # An implicit submit does nothing itself, so what the page sends meanwhile (a fetch the
            # click's handler starts late on a busy machine) still belongs to the click.
            if not (isinstance(step, BrowserStep) and step.action == "submit" and self.submitted):
                net.step_id = step.id
            started = time.perf_counter()
            failures_before = len(out.failures)
            if isinstance(step, HttpStep):
                ok = await self._http_step(step, context, variables, out)
            else:
                record = StepRecord(step_id=step.id, kind="browser")
                implicit = step.action == "submit" and self.submitted
                errors_before = len(net.console_errors)
                ok = await self._browser_step(step, page, net, variables, out=out, record=record)
                acted_at = time.monotonic() if step.action in _MAY_REQUEST and not implicit else None
                await net.settle(min(step.timeout_s, 5.0), step.network if ok else [], acted_at)
                if ok:
                    await self._expectations(step, page, variables, out)
                if ok and not self.env.options.status_only:  # the peer checks only that elements are there
                    shown = await self._page(
                        step, page, reader, acted_at=acted_at, errors=net.console_errors[errors_before:], out=out
                    )
                    if shown is not None:
                        pages.append(shown)
                record.duration_ms = (time.perf_counter() - started) * 1000.0
                out.steps.append(record)
            if len(out.failures) > failures_before:
                await self._evidence(test, step.id, page, net, out.failures[failures_before:])
            if not ok:
                out.aborted = True
                break
        return out

    def _credentials(self, test: TestCase) -> dict[str, str]:
        """What the test's auth profile gives a browser to type (the password of a login form the
        recording filled in: never recorded). Missing ones raise AuthError: the test is skipped."""
        if test.auth_profile is None:
            return {}
        profile = self.env.profiles.get(test.auth_profile)
        if profile is None:
            raise AuthError(f"auth profile {test.auth_profile!r} is not in the suite")
        return {var: resolve_value(ref, dict(os.environ)) for var, ref in profile.variables.items()}

    async def _browser_step(
        self,
        step: BrowserStep,
        page: Page,
        net: _Network,
        variables: dict[str, Any],
        *,
        out: Execution,
        record: StepRecord,
    ) -> bool:
        timeout_ms = step.timeout_s * 1000.0
        try:
            if step.action == "goto":
                url = render_url(step.url or "/", variables, self.target, self.env.suite.origin)
                errors_from = len(net.console_errors)
                try:
                    await page.goto(url, wait_until="load", timeout=timeout_ms)
                except PlaywrightError as exc:
                    if not _timed_out(exc):
                        raise
                    # A document that did not load in time is asked once more, as a safe request
                    # answered 503 is (`_Network.on_response`): a page that hangs (a regression)
                    # hangs again and is reported; one slow load on a busy machine is not. What the
                    # first load did (its requests, its console) is forgotten, not judged.
                    await page.goto("about:blank")  # the pending load stops (or aborts the next one)
                    net.forget(step.id, errors_from)
                    await page.goto(url, wait_until="load", timeout=timeout_ms)
                return True
            if step.action == "wait" and not step.locators:
                await page.wait_for_load_state("networkidle", timeout=timeout_ms)
                return True
            if step.action == "submit" and self.submitted:
                # Submitting again would place a second order: the browser already did it.
                self.submitted = False
                record.locator = "implicit: submitted by the previous action"
                return True
            self.submitted = False
            found = await find(page, step.locators, step.timeout_s)
            if found is None:
                tried = [describe_locator(loc) for loc in step.locators] or "(no locator recorded)"
                out.failures.append(
                    Failure(
                        source="expectation",
                        assertion_id="expect:locator",
                        kind="locator",
                        description="recorded expectation: the element the user acted on is on the page",
                        expected=tried,
                        actual=f"none of {len(step.locators)} locators matched a visible element",
                        step_id=step.id,
                        url=page.url,
                    )
                )
                record.error = "element not found"
                return False
            index, element = found
            record.locator_index, record.locator = index, describe_locator(step.locators[index])
            value = render(step.value, variables) if step.value is not None else ""
            if step.action in ("click", "press"):
                self.submitted = await _submits_form(element, step.action, step.value)
            if step.action in _POINTER:
                await _centre(element)
            if step.action == "click":
                await element.click(timeout=timeout_ms)
            elif step.action == "fill":
                await element.fill(value, timeout=timeout_ms)
            elif step.action == "select":
                await element.select_option(value, timeout=timeout_ms)
            elif step.action == "check":  # "false" unchecks (a checkbox the user cleared)
                await element.set_checked(value != "false", timeout=timeout_ms)
            elif step.action == "press":
                await element.press(value or "Enter", timeout=timeout_ms)
            elif step.action == "submit":
                await element.evaluate(SUBMIT_SCRIPT)
            return True
        except MissingVariable as exc:
            out.failures.append(Failure.missing_variable(exc.name, f"cannot run the step: {exc}", step.id))
            record.error = str(exc)
            return False
        except PlaywrightError as exc:
            message = str(exc).splitlines()[0][:300]
            timed_out = _timed_out(exc)
            # Chromium's net::ERR_* (refused, reset, unresolved): the target did not answer at all;
            # nor did it when a page load timed out. An action (click, fill…) that timed out waited
            # for its element to be actionable: the page answered, and a baseline whose element
            # cannot be acted on either shows the test could not be taken there (judge.chain_break).
            if timed_out:
                kind = "timeout" if step.action in ("goto", "wait") else "browser"
            else:
                kind = "connection" if "net::ERR_" in message else "browser"
            out.failures.append(
                Failure(
                    source="execution",
                    assertion_id="exec:timeout" if timed_out else f"exec:{kind}",
                    kind=kind,
                    description=f"{step.action} failed: {message}",
                    expected=step.action,
                    actual=message,
                    step_id=step.id,
                    url=page.url,
                )
            )
            record.error = message
            return False

    async def _expectations(self, step: BrowserStep, page: Page, variables: dict[str, Any], out: Execution) -> None:
        expect = step.expect
        timeout_s = min(step.timeout_s, 5.0)
        if expect.url:
            try:
                wanted = render(expect.url, variables)
            except MissingVariable:
                wanted = None
            if wanted is not None:
                with contextlib.suppress(PlaywrightError):
                    await page.wait_for_url(
                        lambda u: page_url_matches(u, wanted), wait_until="commit", timeout=timeout_s * 1000.0
                    )
                if not page_url_matches(page.url, wanted):
                    out.failures.append(
                        Failure(
                            source="expectation",
                            assertion_id="expect:url",
                            kind="url",
                            description="recorded expectation: page URL after the step",
                            expected=wanted,
                            actual=page_url(page.url),
                            step_id=step.id,
                            url=page.url,
                        )
                    )
        for text in expect.visible_text:
            try:
                await page.get_by_text(text).first.wait_for(state="visible", timeout=timeout_s * 1000.0)
            except PlaywrightError:
                out.failures.append(
                    Failure(
                        source="expectation",
                        assertion_id=f"expect:text:{text[:40]}",
                        kind="visible_text",
                        description=(
                            f"recorded expectation: the text {text!r} is visible after the step ({step.action})"
                        ),
                        expected=text,
                        actual=f"not visible within {timeout_s:g} s",
                        step_id=step.id,
                        url=page.url,
                    )
                )
        for loc in expect.visible:
            if await find(page, [loc], timeout_s) is None:
                # what the recording saw appear after the user's action is not there: the UI changed
                out.failures.append(
                    Failure(
                        source="expectation",
                        assertion_id=f"expect:visible:{describe_locator(loc)[:60]}",
                        kind="visible",
                        description=(
                            f"recorded expectation: {describe_locator(loc)} visible after the step ({step.action})"
                        ),
                        expected=describe_locator(loc),
                        actual=f"not visible within {timeout_s:g} s",
                        step_id=step.id,
                        url=page.url,
                    )
                )

    async def _page(
        self,
        step: BrowserStep,
        page: Page,
        reader: PageReader,
        *,
        acted_at: float | None,
        errors: list[str],
        out: Execution,
    ) -> Observation | None:
        """What the step left on the page, as an observation on the page's endpoint; and the
        recorded promises about it: the document's status ("a 500 is never a pass") and no
        uncaught error where the recording had none."""
        shown = await reader.capture(page, acted_at)
        base = {"source": "expectation", "step_id": step.id, "url": page.url}
        uncaught = [e for e in errors if e.startswith("uncaught: ")]
        if step.expect.no_errors and uncaught:
            out.failures.append(
                Failure(
                    **base,
                    assertion_id="expect:no-error",
                    kind="console",
                    description=f"recorded expectation: no uncaught JS error after the step ({step.action})",
                    expected="no uncaught error",
                    actual=uncaught[0].removeprefix("uncaught: ")[:300],
                )
            )
        if shown is None:
            return None
        endpoint = self.env.routes.match(PAGE_METHOD, shown.url) or page_endpoint(shown.url)
        recorded = step.expect.status
        if shown.document_loaded and shown.status and _status_regressed(recorded, shown.status):
            out.failures.append(
                Failure(
                    **base,
                    assertion_id="expect:page-status",
                    kind="status",
                    endpoint=endpoint,
                    field="status",
                    description="recorded expectation: the page's document loads without an error status",
                    expected=recorded if recorded is not None else "not 5xx",
                    actual=shown.status,
                )
            )
        body = {**shown.outline, "console_errors": len(errors), CONSOLE_TEXTS: [e[:300] for e in errors[-10:]]}
        return Observation(
            method=PAGE_METHOD,
            url=shown.url,
            endpoint=endpoint,
            status=shown.status,
            headers={},
            body=body,
            duration_ms=shown.duration_ms,
            step_id=step.id,
            is_json=True,
            key=f"{self.key_prefix}{step.id}#page",
            in_browser=True,
            extra={"document": shown.document_loaded, "arrived": shown.arrived},
        )

    async def _http_step(
        self, step: HttpStep, context: BrowserContext, variables: dict[str, Any], out: Execution
    ) -> bool:
        """An API call inside a browser test goes through the context's request API, so it shares
        the page's cookies."""
        try:
            headers = request_headers(step, variables, drop=_DROP_HEADERS)
            data = request_body(step, variables, headers)
            url = render_url(step.request.url, variables, self.target, self.env.suite.origin)
            started = time.perf_counter()
            response = await context.request.fetch(
                url,
                method=step.request.method.upper(),
                headers=headers,
                data=data,
                timeout=step.timeout_s * 1000.0,
                max_redirects=0,
            )
            raw = await response.body()
            elapsed = (time.perf_counter() - started) * 1000.0
        except (MissingVariable, PlaywrightError) as exc:
            message = str(exc).splitlines()[0][:300]
            out.failures.append(
                Failure(
                    source="execution",
                    assertion_id="exec:request",
                    kind="connection",
                    description=f"request failed: {message}",
                    expected="a response",
                    actual=message,
                    step_id=step.id,
                    endpoint=step.endpoint,
                )
            )
            out.steps.append(StepRecord(step_id=step.id, kind="http", endpoint=step.endpoint, error=message))
            return False
        resp_headers = {k.lower(): v for k, v in response.headers.items()}
        body, is_json = parse_body(raw, resp_headers.get("content-type", ""))
        obs = Observation(
            method=step.request.method.upper(),
            url=url,
            endpoint=step.endpoint,
            status=response.status,
            headers=resp_headers,
            body=body,
            duration_ms=elapsed,
            step_id=step.id,
            is_json=is_json,
            key=f"{self.key_prefix}{step.id}#http",
            in_browser=True,
        )
        out.observations.append(obs)
        out.steps.append(
            StepRecord(
                step_id=step.id, kind="http", endpoint=step.endpoint, status=response.status, duration_ms=elapsed
            )
        )
        out.failures.extend(check_expectation(step.expect, obs, status_only=self.env.options.status_only))
        cookies = {c["name"]: c["value"] for c in await context.cookies()}
        for ex in step.extract:
            value = extract(ex, obs, cookies)
            if value is not MISSING:
                variables[ex.var] = value
        return True

    async def _evidence(self, test: TestCase, step_id: str, page: Page, net: _Network, failures: list[Failure]) -> None:
        """Screenshot (into the report directory) and console errors, attached to the failures."""
        shot: str | None = None
        if self.artifacts is not None:
            folder = self.artifacts / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{_safe(test.id)}-{_safe(step_id)}-{uuid.uuid4().hex[:6]}.png"
            try:
                await page.screenshot(path=str(folder / name), full_page=True, timeout=5000)
                shot = f"screenshots/{name}"
            except PlaywrightError:
                shot = None
        for failure in failures:
            failure.screenshot = shot
            failure.console_errors = net.console_errors[-10:]


def _status_regressed(recorded: int | None, status: int) -> bool:
    """A document status that is a regression: an error where the recording had none (2xx/3xx),
    and a server error whatever was recorded (or not) — unless it was recorded as that class."""
    if recorded is not None and recorded // 100 == status // 100:
        return False
    if status >= 500:
        return True
    return status >= 400 and recorded is not None and recorded < 400


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60]
