"""HTTP steps over aiohttp: templates filled, origin rewritten, extractions, recorded expectations.

The hot path of throughput: one connector (connection pool) for the whole run, a light
`ClientSession` per test only for its cookie jar, bodies parsed with orjson, no per-request
allocations beyond the request itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from trodden.assertions import Observation
from trodden.assertions.pointer import MISSING
from trodden.assertions.templates import (
    MAX_REDIRECTS,
    SAFE_METHODS,
    ForeignOrigin,
    MissingVariable,
    extract,
    follows_redirects,
    make_unique,
    origin_of,
    parse_body,
    redirect,
    render,
    request_body,
    request_headers,
    request_url,
    target_base,
)
from trodden.models.suite import AuthProfile, HttpStep, TestCase
from trodden.replay.execution import AuthError, Execution, SuiteEnv, resolve_value
from trodden.replay.oracles import check_expectation
from trodden.replay.results import Failure, StepRecord

_TIMEOUTS: dict[float, aiohttp.ClientTimeout] = {}


def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    found = _TIMEOUTS.get(seconds)
    if found is None:
        found = _TIMEOUTS[seconds] = aiohttp.ClientTimeout(total=seconds)
    return found


def new_connector(concurrency: int) -> aiohttp.TCPConnector:
    # A few connections per concurrent test: pages and redirects overlap.
    return aiohttp.TCPConnector(limit=max(16, concurrency * 4), limit_per_host=0, ttl_dns_cache=300)


def new_session(connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=connector,
        connector_owner=False,
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # unsafe: keep cookies of IP-address hosts
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
        headers={"User-Agent": "trodden-replay"},
    )


def _lower_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _unavailable(method: str, status: int, step: HttpStep) -> bool:
    """A safe request answered 503 where the recording did not: the service says it is overloaded
    for now (RFC 9110 15.6.4), as a health check under load does; asked once more, it answers
    for the version. A 503 again is the step's answer; unsafe requests are never sent twice."""
    return status == 503 and method in SAFE_METHODS and step.expect.status != 503


def _retry_after(headers: dict[str, str]) -> float:
    """Seconds to wait before asking again: the service's Retry-After, at most 2 s (default 0.5 s)."""
    try:
        return min(2.0, max(0.0, float(headers.get("retry-after", "0.5"))))
    except ValueError:
        return 0.5


class HttpClient:
    """Runs HTTP steps for one test attempt against one target, sharing the run's pool."""

    def __init__(self, env: SuiteEnv, session: aiohttp.ClientSession, target: str, key_prefix: str = "") -> None:
        self.env = env
        self.session = session
        self.target = target
        self.key_prefix = key_prefix
        self.auth_headers: dict[str, str] = {}

    async def send(self, step: HttpStep, variables: dict[str, Any]) -> list[Observation]:
        """The exchange(s) of one step: the request, plus redirect hops when the recording saw
        the final response (a 2xx expectation where the target answers 3xx). Last is the step's."""
        headers = request_headers(step, variables)
        headers.update(self.auth_headers)
        data: bytes | str | None = request_body(step, variables, headers)
        method = step.request.method.upper()
        url = request_url(step, variables, self.target, self.env.suite.origin)
        follow = follows_redirects(step)
        observations: list[Observation] = []
        timeout = _timeout(step.timeout_s)
        authorized = any(k.lower() == "authorization" for k in headers)
        for hop in range(MAX_REDIRECTS + 1):
            for attempt in range(2):
                started = time.perf_counter()
                async with self.session.request(
                    method, url, headers=headers, data=data, allow_redirects=False, timeout=timeout
                ) as resp:
                    raw = await resp.read()
                    elapsed = (time.perf_counter() - started) * 1000.0
                    resp_headers = _lower_headers(resp.headers)
                    status = resp.status
                if attempt or not _unavailable(method, status, step):
                    break
                await asyncio.sleep(_retry_after(resp_headers))
            body, is_json = parse_body(raw, resp_headers.get("content-type", ""))
            endpoint = step.endpoint if hop == 0 else self.env.routes.match(method, url)
            observations.append(
                Observation(
                    method=method,
                    url=url,
                    endpoint=endpoint,
                    status=status,
                    headers=resp_headers,
                    body=body,
                    duration_ms=elapsed,
                    step_id=step.id,
                    is_json=is_json,
                    key=f"{self.key_prefix}{step.id}#{hop}",
                    authorized=authorized,
                )
            )
            location = resp_headers.get("location")
            hop_to = redirect(method, url, status, location, headers=headers, data=data) if follow else None
            if hop_to is None:
                break
            method, url, headers, data = hop_to
        return observations

    def cookies(self) -> dict[str, str]:
        return {c.key: c.value for c in self.session.cookie_jar}

    async def run_step(
        self, step: HttpStep, variables: dict[str, Any], out: Execution, *, status_only: bool, label: str | None = None
    ) -> bool:
        """Run one step into `out`; False when the test cannot go on (no response, missing variable)."""
        step_id = label or step.id
        try:
            exchanges = await self.send(step, variables)
        except MissingVariable as exc:
            out.failures.append(
                Failure.missing_variable(exc.name, f"cannot build the request: {exc}", step_id, step.endpoint)
            )
            out.steps.append(StepRecord(step_id=step_id, kind="http", endpoint=step.endpoint, error=str(exc)))
            return False
        except ForeignOrigin as exc:
            out.failures.append(
                Failure(
                    source="execution",
                    assertion_id="exec:foreign-origin",
                    kind="safety",
                    description=str(exc),
                    expected=origin_of(self.target),
                    actual=origin_of(exc.url),
                    step_id=step_id,
                    endpoint=step.endpoint,
                )
            )
            out.steps.append(StepRecord(step_id=step_id, kind="http", endpoint=step.endpoint, error=str(exc)))
            return False
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            timed_out = isinstance(exc, TimeoutError | asyncio.TimeoutError)
            what = f"no response within {step.timeout_s:g} s" if timed_out else f"request failed: {exc!r}"[:300]
            kind = "timeout" if timed_out else "connection"
            out.failures.append(
                Failure(
                    source="execution",
                    assertion_id=f"exec:{kind}",
                    kind=kind,
                    description=what,
                    expected="a response",
                    actual=what,
                    step_id=step_id,
                    endpoint=step.endpoint,
                )
            )
            out.steps.append(
                StepRecord(
                    step_id=step_id,
                    kind="http",
                    endpoint=step.endpoint,
                    error=what,
                    duration_ms=step.timeout_s * 1000.0 if timed_out else 0.0,
                )
            )
            return False
        final = exchanges[-1]
        if label:
            for obs in exchanges:
                obs.step_id = label
        out.observations.extend(exchanges)
        out.steps.append(
            StepRecord(
                step_id=step_id,
                kind="http",
                endpoint=step.endpoint,
                status=final.status,
                duration_ms=sum(o.duration_ms for o in exchanges),
            )
        )
        out.failures.extend(check_expectation(step.expect, final, status_only=status_only))
        cookies = self.cookies() if any(e.source == "cookie" for e in step.extract) else {}
        for ex in step.extract:
            value = extract(ex, final, cookies)
            if value is MISSING:
                out.failures.append(
                    Failure(
                        source="execution",
                        assertion_id=f"exec:extract:{ex.var}",
                        kind="extract",
                        description=f"recorded extraction of {ex.var} ({ex.source} {ex.path}) found nothing",
                        expected=ex.recorded if ex.recorded is not None else "a value",
                        actual="<missing>",
                        step_id=step_id,
                        endpoint=step.endpoint,
                        field=ex.path or None,
                        url=final.url,
                    )
                )
            else:
                variables[ex.var] = value
        return True

    async def login(
        self, profile_name: str | None, variables: dict[str, Any], out: Execution, status_only: bool
    ) -> bool:
        """Apply the test's auth profile: fixed headers, or login steps whose extractions fill them."""
        if profile_name is None:
            return True
        profile = self.env.profiles.get(profile_name)
        if profile is None:
            raise AuthError(f"auth profile {profile_name!r} is not in the suite")
        environ = dict(os.environ)
        # the credentials the login steps (or the test's own login request) send; missing ones
        # raise AuthError: the test is skipped with the variable's name, not failed
        variables.update({var: resolve_value(ref, environ) for var, ref in profile.variables.items()})
        make_unique(variables, profile.unique)  # a synthesised signup: a fresh account per execution
        for step in profile.login:
            if not await self.run_step(step, variables, out, status_only=status_only, label=f"login:{step.id}"):
                return False
            status = out.steps[-1].status
            if step.expect.status is not None and status is not None and status // 100 != step.expect.status // 100:
                # refused credentials: say so once, by name, instead of a cascade of missing values
                label = f"login:{step.id}"
                out.failures = [
                    f for f in out.failures if not (f.step_id == label and f.assertion_id.startswith("exec:extract:"))
                ]
                out.failures.append(
                    Failure(
                        source="execution",
                        assertion_id="exec:login",
                        kind="login",
                        description=f"auth profile {profile_name}: login {step.endpoint} answered {status} "
                        f"(recorded {step.expect.status}); check its credentials ({_sources(profile)})",
                        expected=step.expect.status,
                        actual=status,
                        step_id=label,
                        endpoint=step.endpoint,
                    )
                )
                return False
        try:
            self.auth_headers = {
                name: render(resolve_value(ref, environ), variables) for name, ref in profile.headers.items()
            }
        except MissingVariable as exc:
            out.failures.append(
                Failure.missing_variable(exc.name, f"auth profile {profile_name}: {exc}", f"login:{profile_name}")
            )
            return False
        return True


def _sources(profile: AuthProfile) -> str:
    """Where a profile's credentials come from, for messages: env var and Secret names, never values."""
    refs = [*profile.variables.values(), *profile.headers.values()]
    names = [r.env or (f"secret {r.secret}" if r.secret else "") for r in refs]
    return ", ".join(n for n in names if n) or "fixed values"


async def run_http_test(
    test: TestCase, env: SuiteEnv, session: aiohttp.ClientSession, target: str, key_prefix: str = ""
) -> Execution:
    """One attempt of an HTTP test: its steps in session order, stopping at the first step that
    got no response (what follows would only report the same cause again)."""
    client = HttpClient(env, session, target, key_prefix)
    out = Execution()
    variables: dict[str, Any] = {**test.variables, "origin": target_base(target)}
    make_unique(variables, test.unique)  # state the test creates itself: fresh on every execution
    status_only = env.options.status_only
    if not await client.login(test.auth_profile, variables, out, status_only):
        out.aborted = True
        return out
    for step in test.steps:
        if not isinstance(step, HttpStep):
            out.failures.append(
                Failure(
                    source="execution",
                    assertion_id="exec:step-kind",
                    kind="unsupported",
                    description="a browser step in an HTTP test",
                    step_id=step.id,
                )
            )
            out.aborted = True
            return out
        if not await client.run_step(step, variables, out, status_only=status_only):
            out.aborted = True
            return out
    return out
