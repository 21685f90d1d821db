"""The runtime of exported pytest suites: `trodden export --format pytest` writes test files that
import it (`from trodden.synthesis.pytest_runtime import HttpRunner`).

A committed test must mean exactly what the replay gate means, so this module runs steps and
judges them with the same code replay does (`trodden.assertions`: the request a step sends,
redirects, extractions, recorded expectations, mined assertions and their conditions, temporal
rules). What it adds is a synchronous client (`requests`, Playwright's sync API) and pytest's way
of saying no: a failed check raises `StepFailed`, missing credentials skip the test (as replay
skips it). Timing assertions are left to replay, which settles latency over a whole run.

`TRODDEN_TIMEOUT_S` overrides the per-step timeout (10 s).
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import requests

from trodden.assertions import (
    ExchangeAssertion,
    JudgeContext,
    Observation,
    SequenceAssertion,
    check_expectation,
    load_assertions,
    page_url_matches,
)
from trodden.assertions.pointer import MISSING
from trodden.assertions.templates import (
    MAX_REDIRECTS,
    ForeignOrigin,
    MissingVariable,
    extract,
    follows_redirects,
    make_unique,
    parse_body,
    redirect,
    render,
    render_url,
    request_body,
    request_headers,
    request_url,
    target_base,
)
from trodden.browser import SUBMIT_SCRIPT, describe_locator, exact_first, submits_form_script, to_playwright
from trodden.models.suite import AuthProfile, BrowserStep, HttpStep, Locator
from trodden.replay.execution import AuthError, resolve_value
from trodden.replay.routes import RouteTable


class StepFailed(AssertionError):
    pass


def _timeout_s(default: float) -> float:
    return float(os.environ.get("TRODDEN_TIMEOUT_S", default))


def _credential(profile: AuthProfile, ref: Any) -> str:
    try:
        return resolve_value(ref, dict(os.environ))
    except AuthError as exc:
        pytest.skip(f"auth profile {profile.name}: {exc} (provide it to run this test)")


class HttpRunner:
    """Runs one HTTP test's steps in order with a `requests.Session` (cookies carry over), judging
    every exchange as replay does. `assertions`: the suite's mined assertions, by endpoint;
    `temporal`: its rules over the order of calls; `origin`: where the sessions were recorded
    (absolute URLs there are sent to the target instead)."""

    def __init__(
        self,
        target: str,
        *,
        variables: dict[str, Any] | None = None,
        assertions: dict[str, list[dict[str, Any]]] | None = None,
        temporal: list[dict[str, Any]] | None = None,
        origin: str | None = None,
        profile: dict[str, Any] | None = None,
        timeout_s: float = 10.0,
        unique: list[str] | None = None,
    ) -> None:
        self.http = requests.Session()
        self.target = target
        self.origin = origin
        self.vars: dict[str, Any] = {**(variables or {}), "origin": target_base(target)}
        make_unique(self.vars, unique or [])  # state the test creates itself: fresh on every run
        self.timeout_s = _timeout_s(timeout_s)
        rules = load_assertions([a for group in (assertions or {}).values() for a in group] + list(temporal or []))
        self.by_endpoint: dict[str, list[ExchangeAssertion]] = {}
        self.temporal: list[SequenceAssertion] = []
        for rule in rules:
            if isinstance(rule, SequenceAssertion):
                self.temporal.append(rule)
            else:
                self.by_endpoint.setdefault(rule.endpoint, []).append(rule)
        self.routes = RouteTable({r.endpoint for r in rules} | {r.other for r in rules if r.other})
        self.profile = AuthProfile.model_validate(profile) if profile is not None else None
        self.ctx = JudgeContext(auth_profile=self.profile.name if self.profile else None)
        self.auth_headers: dict[str, str] = {}
        self.observations: list[Observation] = []
        self.recorded: set[str] = set()  # the endpoints of the test's own steps
        if self.profile is not None:
            self._sign_in(self.profile)

    def _sign_in(self, profile: AuthProfile) -> None:
        """Apply an auth profile: its credentials as variables, its login steps (which must answer
        in the recorded status class), then its headers filled from what they extracted."""
        for var, ref in profile.variables.items():
            self.vars[var] = _credential(profile, ref)
        make_unique(self.vars, profile.unique)  # a synthesised signup: a fresh account per run
        for login in profile.login:
            status = self._exchange(login, label=f"login:{login.id}", login=True)
            if login.expect.status is not None and status // 100 != login.expect.status // 100:
                raise StepFailed(
                    f"auth profile {profile.name}: login {login.endpoint} answered {status} "
                    f"(recorded {login.expect.status}); check its credentials"
                )
        try:
            self.auth_headers = {
                name: render(_credential(profile, ref), self.vars) for name, ref in profile.headers.items()
            }
        except MissingVariable as exc:
            raise StepFailed(f"auth profile {profile.name}: {exc}") from None

    def step(self, step: dict[str, Any]) -> Any:
        """Run one recorded step (an `HttpStep` as a dict); returns the response body."""
        parsed = HttpStep.model_validate(step)
        self._exchange(parsed, label=parsed.id)
        self.recorded.add(parsed.endpoint)
        return self.observations[-1].body

    def _exchange(self, step: HttpStep, *, label: str, login: bool = False) -> int:
        try:
            headers = request_headers(step, self.vars)
            headers.update(self.auth_headers)
            data = request_body(step, self.vars, headers)
            method = step.request.method.upper()
            url = request_url(step, self.vars, self.target, self.origin)
        except (MissingVariable, ForeignOrigin) as exc:
            raise StepFailed(f"{label} {step.endpoint}: {exc}") from None
        authorized = any(k.lower() == "authorization" for k in headers)
        follow = follows_redirects(step)
        exchanges: list[Observation] = []
        for hop in range(MAX_REDIRECTS + 1):
            started = time.perf_counter()
            resp = self.http.request(
                method, url, headers=headers, data=data, allow_redirects=False, timeout=_timeout_s(step.timeout_s)
            )
            elapsed = (time.perf_counter() - started) * 1000.0
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            body, is_json = parse_body(resp.content, resp_headers.get("content-type", ""))
            exchanges.append(
                Observation(
                    method=method,
                    url=url,
                    endpoint=step.endpoint if hop == 0 else self.routes.match(method, url),
                    status=resp.status_code,
                    headers=resp_headers,
                    body=body,
                    duration_ms=elapsed,
                    step_id=label,
                    is_json=is_json,
                    authorized=authorized,
                )
            )
            location = resp_headers.get("location")
            hop_to = redirect(method, url, resp.status_code, location, headers=headers, data=data) if follow else None
            if hop_to is None:
                break
            method, url, headers, data = hop_to
        self.observations.extend(exchanges)
        final = exchanges[-1]
        unmet = check_expectation(step.expect, final)
        if login and unmet and step.expect.status is not None and final.status // 100 != step.expect.status // 100:
            return final.status  # refused credentials: the caller says so, by name
        failures = [u.show() for u in unmet]
        status_changed = any(u.id == "expect:status" for u in unmet)
        for obs in exchanges:
            for rule in self.by_endpoint.get(obs.endpoint or "", []):
                if rule.about_timing or (rule.field_rule and status_changed):
                    continue
                failures.extend(f"{rule.kind} ({rule.id}): {rule.show(v)}" for v in rule.judge(obs, self.ctx))
        cookies = {c.name: c.value or "" for c in self.http.cookies}
        for ex in step.extract:
            value = extract(ex, final, cookies)
            if value is MISSING:
                failures.append(f"could not extract {ex.var} ({ex.source} {ex.path})")
            else:
                self.vars[ex.var] = value
        if failures:
            raise StepFailed(f"{label} {final.method} {final.url}: " + "; ".join(failures))
        return final.status

    def check_temporal(self) -> None:
        """The suite's rules over the order of calls, on what this test called."""
        failures = [
            f"{rule.kind} ({rule.id}): {rule.show(v)}"
            for rule in self.temporal
            for v in rule.judge_sequence(self.observations, self.recorded, self.ctx)
        ]
        if failures:
            raise StepFailed("; ".join(failures))


class BrowserRunner:
    """Runs one browser test's steps on a Playwright sync `page` (pytest-playwright style), with
    the locator fallbacks, form submission and expectations replay uses."""

    def __init__(
        self,
        page: Any,
        target: str,
        *,
        variables: dict[str, Any] | None = None,
        origin: str | None = None,
        profile: dict[str, Any] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.page = page
        self.target = target
        self.origin = origin
        self.vars: dict[str, Any] = {**(variables or {}), "origin": target_base(target)}
        if profile is not None:  # what the profile gives a browser to type (a login form's password)
            parsed = AuthProfile.model_validate(profile)
            self.vars.update({var: _credential(parsed, ref) for var, ref in parsed.variables.items()})
        self.timeout_s = _timeout_s(timeout_s)
        self.submitted = False  # the last action submitted a form by itself (the next `submit` is implied)

    def locate(self, locators: list[Locator]) -> Any:
        """The first listed locator that shows a visible element (waiting for any); fails listing all."""
        deadline = time.monotonic() + self.timeout_s
        candidates = [c for loc in locators for c in exact_first(self.page, loc)]
        while True:
            for candidate in candidates:
                try:
                    if candidate.first.is_visible():
                        return candidate.first
                except Exception:  # an invalid selector in a recording must not hide the next one
                    continue
            if time.monotonic() >= deadline:
                tried = [describe_locator(loc) for loc in locators] or "(no locator recorded)"
                raise StepFailed(f"no element found by any of {tried}")
            self.page.wait_for_timeout(100)

    def step(self, step: dict[str, Any]) -> None:
        parsed = BrowserStep.model_validate(step)
        try:
            self._act(parsed)
            self._expect(parsed)
        except MissingVariable as exc:
            raise StepFailed(f"{parsed.id}: {exc}") from None

    def _act(self, step: BrowserStep) -> None:
        timeout_ms = self.timeout_s * 1000.0
        if step.action == "goto":
            url = render_url(step.url or "/", self.vars, self.target, self.origin)
            self.page.goto(url, wait_until="load", timeout=timeout_ms)
            return
        if step.action == "wait" and not step.locators:
            self.page.wait_for_load_state("networkidle", timeout=timeout_ms)
            return
        if step.action == "submit" and self.submitted:
            self.submitted = False  # the browser already submitted it: twice would place two orders
            return
        self.submitted = False
        element = self.locate(step.locators)
        value = render(step.value, self.vars) if step.value is not None else ""
        if step.action in ("click", "press") and (step.action == "click" or (step.value or "Enter") == "Enter"):
            self.submitted = bool(element.evaluate(submits_form_script(step.action)))
        if step.action == "click":
            element.click(timeout=timeout_ms)
        elif step.action == "fill":
            element.fill(value, timeout=timeout_ms)
        elif step.action == "select":
            element.select_option(value, timeout=timeout_ms)
        elif step.action == "check":  # "false" unchecks (a checkbox the user cleared)
            element.set_checked(value != "false", timeout=timeout_ms)
        elif step.action == "press":
            element.press(value or "Enter", timeout=timeout_ms)
        elif step.action == "submit":
            element.evaluate(SUBMIT_SCRIPT)

    def _expect(self, step: BrowserStep) -> None:
        timeout_ms = min(self.timeout_s, 5.0) * 1000.0
        if step.expect.url:
            wanted = render(step.expect.url, self.vars)
            try:
                self.page.wait_for_url(lambda u: page_url_matches(u, wanted), wait_until="commit", timeout=timeout_ms)
            except Exception as exc:  # Playwright's TimeoutError: say what was expected
                raise StepFailed(f"{step.id}: page is {self.page.url}, expected {wanted}") from exc
        for text in step.expect.visible_text:
            try:
                self.page.get_by_text(text).first.wait_for(state="visible", timeout=timeout_ms)
            except Exception as exc:
                raise StepFailed(f"{step.id}: text {text!r} not visible") from exc
        for loc in step.expect.visible:
            try:
                to_playwright(self.page, loc).first.wait_for(state="visible", timeout=timeout_ms)
            except Exception as exc:
                raise StepFailed(f"{step.id}: element {describe_locator(loc)} not visible") from exc
