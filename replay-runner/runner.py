"""`replay_suite`: run a suite (one shard of it) against a target, with retries and an optional
baseline, and return the `RunReport` every report is rendered from.

Tests run concurrently under a semaphore (C at a time); HTTP tests share one connection pool,
browser tests one Chromium (at most two pages at once: a 2-core machine gains nothing from more).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from trodden.assertions import JudgeContext
from trodden.log import get_logger
from trodden.models.suite import Suite, TestCase
from trodden.replay import persist
from trodden.replay.baseline_latency import baseline_timings
from trodden.replay.execution import AuthError, Execution, SuiteEnv
from trodden.replay.flaky import likely_cause, outcome_of
from trodden.replay.grouping import ignored
from trodden.replay.http_exec import new_connector, new_session, run_http_test
from trodden.replay.judge import Judge, against_baseline, chain_break
from trodden.replay.metrics import REPLAY_REQUESTS, REPLAY_TESTS
from trodden.replay.options import OptionError, ReplayOptions
from trodden.replay.results import Attempt, Failure, RunReport, TestResult, Timing
from trodden.replay.safety import skip_reason, unsafe_steps
from trodden.replay.state import data_comparable, split, writes
from trodden.replay.timing import settle_latency
from trodden.store import Store

log = get_logger(__name__)

BROWSER_PARALLELISM = 2


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_url(url: str, flag: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(f"{flag} must be an http(s) URL with a host, got {url!r}")
    return url.strip()


def select_tests(suite: Suite, options: ReplayOptions) -> list[TestCase]:
    """This shard's tests, in suite order."""
    return [
        t
        for t in suite.tests
        if options.shard.owns(t.id)
        and (options.only is None or t.type == options.only)
        and (options.test_ids is None or t.id in options.test_ids)
    ]


class _Engine:
    def __init__(self, suite: Suite, target: str, options: ReplayOptions) -> None:
        self.suite = suite
        self.target = target
        self.options = options
        self.env = SuiteEnv.build(suite, options)
        self.judge = Judge.for_assertions(suite.assertions)
        self.ignore = [*suite.ignore, *options.ignore]  # intended changes: their findings are left out
        self.connector: aiohttp.BaseConnector | None = None
        self.browser: Any = None
        self.test_slots = asyncio.Semaphore(options.concurrency)
        self.browser_slots = asyncio.Semaphore(min(options.concurrency, BROWSER_PARALLELISM))

    async def execute(self, test: TestCase, target: str, key_prefix: str = "") -> Execution:
        if test.type == "browser":
            from trodden.replay.browser_exec import BrowserRunner

            async with self.browser_slots:
                return await BrowserRunner(self.env, self.browser, target).run(test)
        assert self.connector is not None
        async with new_session(self.connector) as session:
            exe = await run_http_test(test, self.env, session, target, key_prefix)
        REPLAY_REQUESTS.inc(len(exe.observations))
        return exe

    def context(self, test: TestCase) -> JudgeContext:
        return JudgeContext(
            auth_profile=test.auth_profile,
            latency_factor=self.options.latency_factor,
            latency_slack_ms=self.options.latency_slack_ms,
            browser_latency_slack_ms=self.options.browser_latency_slack_ms,
            status_only=self.options.status_only,
        )

    async def run_test(self, test: TestCase) -> TestResult:
        base = {"test_id": test.id, "name": test.name, "type": test.type, "session_id": test.session_id}
        urls = [self.target] + [u for u in (self.options.baseline, self.options.secondary_baseline) if u]
        reason = skip_reason(test, self.suite, urls, self.options.allow_unsafe_on_origin)
        if reason is not None:
            return TestResult(**base, outcome="skipped", reason=reason)
        async with self.test_slots:
            started = time.perf_counter()
            try:
                attempts = await self._attempts(test)
            except AuthError as exc:
                # Missing credentials say nothing about the target: the test is not run, loudly.
                log.warning(
                    "test skipped: credentials missing", test=test.id, profile=test.auth_profile, reason=str(exc)
                )
                return TestResult(
                    **base,
                    outcome="skipped",
                    reason=f"auth profile {test.auth_profile}: {exc} (provide it to replay this test)",
                )
            except Exception as exc:  # a bug must cost one test, not the run
                log.exception("test crashed", test=test.id)
                return TestResult(
                    **base,
                    outcome="error",
                    reason=f"internal error: {exc!r}"[:500],
                    attempts=1,
                    duration_ms=(time.perf_counter() - started) * 1000.0,
                )
        last = attempts[-1]
        # never a pass: a test that could not run on the baseline either proves nothing (what it
        # found before its chain broke still counts: it then fails with that)
        if last.unverified and not last.failures:
            return TestResult(
                **base,
                outcome="error",
                reason=last.unverified,
                attempts=len(attempts),
                duration_ms=sum(a.duration_ms for a in attempts),
                steps=last.steps,
                endpoints=last.endpoints,
            )
        outcome = outcome_of(attempts)
        failing = [a for a in attempts if not a.ok]
        # A failed test reports its FIRST attempt: on a stateful target a retry fails differently
        # (409 on a registration the first attempt made) and would hide the real failure.
        failures = failing[0].failures if outcome == "failed" else [f for a in failing for f in a.failures]
        for failure in failures:
            failure.test_id, failure.session_id = test.id, test.session_id
        return TestResult(
            **base,
            outcome=outcome,
            attempts=len(attempts),
            duration_ms=sum(a.duration_ms for a in attempts),
            flaky_cause=likely_cause(attempts) if outcome == "flaky" else None,
            failures=failures,
            steps=last.steps,
            endpoints=last.endpoints,
            timings=last.timings,
        )

    async def _attempts(self, test: TestCase) -> list[Attempt]:
        ctx = self.context(test)
        attempts: list[Attempt] = []
        baseline: tuple[Execution, list[Failure], Execution] | None = None
        # With a baseline, a test that writes runs once: a retry would write on the target alone, and
        # every later test would see a history the baseline never had (`trodden.replay.state`).
        retries = 0 if self.options.baseline and writes(test) else self.options.retries
        for _ in range(1 + retries):
            started = time.perf_counter()
            if self.options.baseline and baseline is None:
                exe, b1, b2 = await self._sides(test)
                baseline = (b1, self.judge.judge(test, b1, ctx), b2)
            else:
                exe = await self.execute(test, self.target, "")
            failures = self.judge.judge(test, exe, ctx)
            unverified = None
            timings: list[Timing] = []
            if baseline is not None:  # every test is compared: a field can change without failing
                unverified = chain_break(failures, baseline[0], baseline[1])
                timings = baseline_timings(exe, baseline[0], baseline[2])
                failures = against_baseline(
                    failures,
                    exe,
                    baseline[0],
                    baseline[1],
                    baseline[2],
                    latency=self.options.baseline_latency,
                    page_data=data_comparable(test, secondary_baseline=bool(self.options.secondary_baseline)),
                )
            failures = ignored(failures, self.ignore)
            attempts.append(
                Attempt(
                    failures=failures,
                    steps=exe.steps,
                    duration_ms=(time.perf_counter() - started) * 1000.0,
                    endpoints=[o.endpoint for o in exe.observations if o.endpoint],
                    unverified=unverified,
                    timings=timings,
                )
            )
            if not failures or unverified:
                break
        return attempts

    async def _sides(self, test: TestCase) -> tuple[Execution, Execution, Execution]:
        """The test on the target and twice on the baseline (Diffy's primary and secondary), at the
        same time where the sides cannot see each other: the target alongside the baseline's first
        replay, and the second too when it has a deployment of its own or the test only reads. Two
        replays of a test that writes on one baseline deployment stay one after the other."""
        assert self.options.baseline is not None
        primary, secondary = self.options.baseline, self.options.secondary_baseline
        if secondary or not writes(test):
            exe, b1, b2 = await asyncio.gather(
                self.execute(test, self.target, ""),
                self.execute(test, primary),
                self.execute(test, secondary or primary),
            )
            return exe, b1, b2
        exe, b1 = await asyncio.gather(self.execute(test, self.target, ""), self.execute(test, primary))
        return exe, b1, await self.execute(test, primary)

    async def run(
        self, tests: list[TestCase], serial: Sequence[TestCase] = (), before_serial: Awaitable[Any] | None = None
    ) -> list[TestResult]:
        """`tests` concurrently, then (once `before_serial` is done too) `serial` one at a time."""
        async with AsyncExitStack() as stack:
            self.connector = new_connector(self.options.concurrency)
            stack.push_async_callback(self.connector.close)
            if any(t.type == "browser" for t in [*tests, *serial]):
                self.browser = await stack.enter_async_context(_chromium())
            results = list(await asyncio.gather(*(self.run_test(t) for t in tests)))
            if before_serial is not None:
                await before_serial
            for test in serial:
                results.append(await self.run_test(test))
        for result in results:
            REPLAY_TESTS.labels(outcome=result.outcome).inc()
        return list(results)


@asynccontextmanager
async def _chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    from trodden.browser import launch_chromium

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            yield browser
        finally:
            await browser.close()


MIN_TESTS_PER_WORKER = 20  # below this, starting a process costs more than it saves


async def _run_tests(suite: Suite, target: str, options: ReplayOptions, tests: list[TestCase]) -> list[TestResult]:
    """Run `tests`, spreading HTTP tests over `options.workers` processes when there are enough
    of them; results come back in suite order. With a baseline, tests that write run after all
    the others, one at a time (`trodden.replay.state`)."""
    order = {t.id: i for i, t in enumerate(tests)}
    writers: list[TestCase] = []
    if options.baseline:
        tests, writers = split(tests)
        if writers:
            log.info("tests that write run one at a time after the others", readers=len(tests), writers=len(writers))
    http = [t for t in tests if t.type == "http"]
    workers = max(1, min(options.workers, len(http) // MIN_TESTS_PER_WORKER))
    if workers == 1:
        results = await _Engine(suite, target, options).run(tests, writers)
        return sorted(results, key=lambda r: order[r.test_id])
    per_worker = replace(options, workers=1, concurrency=max(1, math.ceil(options.concurrency / workers)))
    groups = [http[i::workers] for i in range(workers)]
    local = groups[0] + [t for t in tests if t.type != "http"]
    loop = asyncio.get_running_loop()
    # spawn, not fork: the parent has a running event loop, a database pool and maybe Chromium.
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = [
            loop.run_in_executor(pool, run_group, suite, target, per_worker, [t.id for t in g]) for g in groups[1:]
        ]
        others = asyncio.gather(*remote)
        results = await _Engine(suite, target, per_worker).run(local, writers, before_serial=others)
        for group_results in await others:
            results.extend(group_results)
    return sorted(results, key=lambda r: order[r.test_id])


def run_group(suite: Suite, target: str, options: ReplayOptions, test_ids: list[str]) -> list[TestResult]:
    """A worker process's share of the HTTP tests (module-level so it pickles)."""
    wanted = set(test_ids)
    tests = [t for t in suite.tests if t.id in wanted]
    return asyncio.run(_Engine(suite, target, options).run(tests))


async def replay_suite(
    store: Store | None, suite: Suite, target: str, options: ReplayOptions | None = None
) -> RunReport:
    """Replay this shard of `suite` against `target`; results go to `store` when one is given.
    Raises `OptionError` for bad options (the CLI's exit code 2)."""
    options = options or ReplayOptions()
    options.validate()
    target = check_url(target, "--target")
    if options.baseline:
        check_url(options.baseline, "--baseline")
    if options.secondary_baseline:
        check_url(options.secondary_baseline, "--secondary-baseline")
    tests = select_tests(suite, options)
    if not suite.origin and not options.allow_unsafe_on_origin and any(unsafe_steps(t, suite) for t in tests):
        log.warning("suite has no recorded origin: unsafe steps cannot be kept off production", suite=suite.name)
    report = RunReport(
        suite=suite.name,
        revision=suite.revision,
        target=target,
        baseline=options.baseline,
        shard=str(options.shard),
        shard_count=options.shard.count,
        run_name=options.run_name,
        started_at=now_iso(),
        report_dir=str(options.report_dir) if options.report_dir else None,
    )
    if store is not None:
        report.run_id = await persist.start_run(store, report, options.shard.count)
    log.info(
        "replay started",
        suite=suite.name,
        revision=suite.revision,
        target=target,
        tests=len(tests),
        shard=str(options.shard),
        baseline=options.baseline,
    )
    try:
        report.results = settle_latency(
            await _run_tests(suite, target, options, tests),
            options.latency_quorum,
            options.baseline_latency if options.baseline else None,
        )
    except BaseException:
        if store is not None and report.run_id is not None:
            await persist.fail_run(store, report.run_id)
        raise
    report.finished_at = now_iso()
    if store is not None:
        await persist.finish_run(store, report)
    counts = report.counts
    log.info(
        "replay finished",
        passed=counts.passed,
        failed=counts.failed,
        flaky=counts.flaky,
        skipped=counts.skipped,
        errors=counts.error,
    )
    if report.nothing_verified:
        log.error("replay verified nothing", reason=report.nothing_verified)
    return report
