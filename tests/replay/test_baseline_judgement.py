"""With a baseline in the same run: a test whose chain breaks there as well verified nothing (an
error with its reason, never a pass), and latency is judged against the baseline's own timings
(a ratio with a floor), not only against bounds mined at recording time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from replay_suites import a, get, http_test

from trodden.models.suite import Suite
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite


def timed_app(delay_s: float) -> web.Application:
    async def item(request: web.Request) -> web.Response:
        if request.match_info["iid"] != "1":
            return web.json_response({"error": "not_found"}, status=404)
        await asyncio.sleep(delay_s)
        return web.json_response({"id": 1, "name": "one"})

    app = web.Application()
    app.router.add_get("/items/{iid}", item)
    return app


@asynccontextmanager
async def serving(*apps: web.Application) -> AsyncIterator[list[str]]:
    runners = []
    for app in apps:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
    try:
        yield [f"http://127.0.0.1:{r.addresses[0][1]}" for r in runners]
    finally:
        for runner in runners:
            await runner.cleanup()


def items_suite(max_ms: float, *, item: str = "1") -> Suite:
    test = http_test("t-item", [get("s1", "GET /items/{id}", "{{origin}}/items/" + item, status=200)])
    return Suite(
        name="items",
        revision=1,
        source="s",
        origin="https://items.example.com",
        created_at="now",
        tests=[test],
        assertions=[a("a-latency", "latency", "GET /items/{id}", params={"max_ms": max_ms})],
    )


async def test_a_chain_that_breaks_on_the_baseline_too_verified_nothing() -> None:
    suite = items_suite(5000, item="42")  # recorded 200 for an item a fresh deployment does not hold
    async with serving(timed_app(0), timed_app(0)) as (target, baseline):
        alone = await replay_suite(None, suite, target, ReplayOptions(retries=0))
        both = await replay_suite(None, suite, target, ReplayOptions(retries=0, baseline=baseline))
    assert alone.results[0].outcome == "failed"  # without a baseline: a 404 where 200 was recorded
    result = both.results[0]
    assert result.outcome == "error" and result.reason is not None
    assert "chain breaks on the baseline as well: step s1" in result.reason and "answered 404" in result.reason
    assert both.has_regressions  # never a pass


async def test_latency_is_judged_against_the_baseline_of_the_same_run() -> None:
    options = ReplayOptions(retries=0, latency_slack_ms=0)
    # a loaded machine: both sides break a tight mined bound, so the target is not slower
    async with serving(timed_app(0.3), timed_app(0.3)) as (target, baseline):
        alone = await replay_suite(None, items_suite(100), target, options)
        judged = await replay_suite(
            None, items_suite(100), target, ReplayOptions(retries=0, latency_slack_ms=0, baseline=baseline)
        )
    assert alone.results[0].outcome == "failed"
    assert judged.results[0].outcome == "passed", judged.results[0].failures
    # a real slowdown within a generous mined bound: slower than ratio times baseline + floor
    async with serving(timed_app(0.7), timed_app(0.01)) as (target, baseline):
        slow = await replay_suite(None, items_suite(5000), target, ReplayOptions(retries=0, baseline=baseline))
    failure = next(f for f in slow.results[0].failures if f.kind == "latency")
    assert failure.assertion_id == "diff:latency" and failure.baseline is not None
    assert "slower than the baseline" in failure.description


def outlier_app(slow_call: int) -> web.Application:
    """Fast, except the `slow_call`-th request: one slow exchange on a loaded machine."""
    calls = [0]

    async def item(_r: web.Request) -> web.Response:
        calls[0] += 1
        await asyncio.sleep(0.7 if calls[0] == slow_call else 0.0)
        return web.json_response({"id": 1, "name": "one"})

    app = web.Application()
    app.router.add_get("/items/{iid}", item)
    return app


async def test_one_slow_exchange_is_noise_when_the_endpoint_keeps_pace_with_the_baseline() -> None:
    one = items_suite(5000)
    suite = one.model_copy(
        update={"tests": [t.model_copy(update={"id": f"t-item-{i}"}) for i in range(6) for t in one.tests]}
    )
    async with serving(outlier_app(3), timed_app(0)) as (target, baseline):
        report = await replay_suite(None, suite, target, ReplayOptions(retries=0, concurrency=1, baseline=baseline))
    outcomes = sorted(r.outcome for r in report.results)
    assert outcomes == ["flaky"] + ["passed"] * 5, [(r.outcome, r.failures) for r in report.results]
    assert next(r for r in report.results if r.outcome == "flaky").flaky_cause == "timing"


def acl_app(writers: list[str], *, busy_first: int = 0) -> web.Application:
    """An item whose permissions are a set the service lists in its own order; the first
    `busy_first` requests of its health check answer 503 (a service under load)."""
    calls = {"health": 0}

    async def item(_r: web.Request) -> web.Response:
        return web.json_response({"id": 1, "permissions": {"write": writers}, "history": [{"by": w} for w in writers]})

    async def health(_r: web.Request) -> web.Response:
        calls["health"] += 1
        busy = calls["health"] <= busy_first
        return web.json_response({"ok": not busy}, status=503 if busy else 200)

    app = web.Application()
    app.router.add_get("/items/{iid}", item)
    app.router.add_get("/health", health)
    return app


def acl_suite() -> Suite:
    test = http_test(
        "t-acl",
        [
            get("s1", "GET /health", "{{origin}}/health", status=200),
            get("s2", "GET /items/{id}", "{{origin}}/items/1", status=200),
        ],
    )
    return Suite(name="acl", revision=1, source="s", origin="https://acl.example.com", created_at="now", tests=[test])


async def test_a_set_listed_in_another_order_is_the_same_set() -> None:
    options = {"retries": 0}
    async with serving(
        acl_app(["account:bob", "system.Authenticated"]), acl_app(["system.Authenticated", "account:bob"])
    ) as (target, baseline):
        report = await replay_suite(None, acl_suite(), target, ReplayOptions(baseline=baseline, **options))
    # permissions: the same set; history: records in another order, which is a finding
    assert {f.assertion_id for f in report.regressions} == {"diff:body:/history/0/by", "diff:body:/history/1/by"}
    async with serving(acl_app(["account:bob", "account:eve"]), acl_app(["account:bob", "system.Authenticated"])) as (
        target,
        baseline,
    ):
        changed = await replay_suite(None, acl_suite(), target, ReplayOptions(baseline=baseline, **options))
    assert "diff:body:/permissions/write/*" in {f.assertion_id for f in changed.regressions}  # another member


async def test_a_service_unavailable_for_a_moment_is_asked_once_more() -> None:
    writers = ["account:bob"]
    async with serving(acl_app(writers, busy_first=1), acl_app(writers)) as (target, baseline):
        once = await replay_suite(None, acl_suite(), target, ReplayOptions(retries=0, baseline=baseline))
    assert once.regressions == [] and once.results[0].outcome == "passed"
    async with serving(acl_app(writers, busy_first=9), acl_app(writers)) as (target, baseline):
        down = await replay_suite(None, acl_suite(), target, ReplayOptions(retries=0, baseline=baseline))
    assert ("expect:status", 503) in {(f.assertion_id, f.actual) for f in down.regressions}
