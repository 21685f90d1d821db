"""Replays against the real replay shop over loopback: v1 (unchanged) and v2 (planted regressions),
HTTP tests through aiohttp and browser tests in Chromium."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from replay_shop import PLANTED
from replay_suites import checkout_suite, flaky_suite, shop_suite

from trodden.models.suite import AuthProfile, ValueFrom
from trodden.replay.html_report import write_html
from trodden.replay.options import OptionError, ReplayOptions, Shard
from trodden.replay.persist import summarize_run
from trodden.replay.reports import json_report, junit_xml
from trodden.replay.runner import replay_suite
from trodden.store import Store


async def test_unchanged_target_gives_zero_failures_over_ten_replays(shop_v1: str) -> None:
    suite = shop_suite()
    for round_no in range(10):
        report = await replay_suite(None, suite, shop_v1, ReplayOptions(retries=0, concurrency=4))
        bad = [(r.test_id, [f.assertion_id for f in r.failures]) for r in report.results if r.outcome != "passed"]
        assert bad == [], f"replay {round_no}: {bad}"
        assert report.counts.passed == len(suite.tests)


async def test_every_planted_regression_is_caught_by_its_assertion(shop_v2: str, tmp_path: Path) -> None:
    report = await replay_suite(None, shop_suite(), shop_v2, ReplayOptions(retries=1, report_dir=tmp_path))
    caught = {(f.test_id, f.assertion_id) for f in report.regressions}
    missed = {name: pair for name, pair in PLANTED.items() if pair not in caught}
    assert missed == {}
    assert report.has_regressions
    flow = next(r for r in report.results if r.test_id == "t-order-flow")
    assert flow.outcome == "passed"  # correlation: the created order's id was carried into the next request
    # failed tests were retried: a regression is not flaky
    assert all(r.attempts == 2 for r in report.results if r.outcome == "failed")

    doc = json_report(report)
    entries = {(e["test"], e["assertion"]["id"]): e for e in doc["regressions"]}
    price = entries[PLANTED["wrong type"]]
    assert price["endpoint"] == "GET /api/products/{id}" and price["step"] == "s1"
    assert price["expected"] == "number" and price["actual"] == "12.50" and price["session_id"] == "s-t-product"
    assert entries[("t-categories", "expect:status")]["assertion"]["description"] == "recorded expectation: status"
    ui = entries[PLANTED["changed UI element"]]
    assert ui["screenshot"] and (tmp_path / ui["screenshot"]).stat().st_size > 1000

    html = write_html(report, tmp_path).read_text()
    for _test, assertion_id in PLANTED.values():
        assert assertion_id in html
    assert ui["screenshot"] in html and "s-t-product" in html

    junit = ET.fromstring(junit_xml(report))
    suite = junit.find("testsuite")
    assert suite is not None and suite.get("failures") == str(report.counts.failed)
    failed_cases = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert any(name and name.startswith("t-product") for name in failed_cases)


async def test_status_only_replay_misses_what_mined_assertions_catch(shop_v2: str) -> None:
    report = await replay_suite(None, shop_suite(browser=False), shop_v2, ReplayOptions(retries=0, status_only=True))
    caught = {f.test_id for f in report.regressions}
    assert caught == {"t-categories"}


async def test_baseline_diffs_count_only_fields_stable_on_the_baseline(shop_v1: str, shop_v2: str) -> None:
    # Statuses only recorded and no mined assertions: what is caught here is Diffy's rule alone.
    suite = shop_suite(browser=False, expectations=False).model_copy(update={"assertions": []})
    clean = await replay_suite(None, suite, shop_v1, ReplayOptions(baseline=shop_v1, retries=0))
    assert [r.failures for r in clean.results if r.outcome != "passed"] == []  # ids, timestamps: noise
    report = await replay_suite(None, suite, shop_v2, ReplayOptions(baseline=shop_v1, retries=0))
    fields = {(f.test_id, f.field) for f in report.regressions}
    assert ("t-product", "/price") in fields
    assert ("t-me", "/user/email") in fields
    assert ("t-order-invalid", "/error") in fields
    assert ("t-categories", "status") in fields
    assert not any(f.field in ("/request_id", "/updated_at", "/order_id") for f in report.regressions)
    price = next(f for f in report.regressions if f.field == "/price")
    assert price.source == "diff" and price.baseline == 12.5 and price.actual == "12.50"


async def test_unsafe_steps_never_run_against_the_recorded_origin(shop_v1: str) -> None:
    suite = shop_suite(origin=shop_v1)
    report = await replay_suite(None, suite, shop_v1, ReplayOptions(retries=0, only="http"))
    skipped = {r.test_id: r.reason for r in report.results if r.outcome == "skipped"}
    # t-me logs in with a POST: unsafe too
    assert set(skipped) == {"t-me", "t-order-invalid", "t-order-flow"}
    assert all(reason and "--allow-unsafe-on-origin" in reason for reason in skipped.values())
    forced = await replay_suite(
        None, suite, shop_v1, ReplayOptions(retries=0, only="http", allow_unsafe_on_origin=True)
    )
    assert forced.counts.skipped == 0 and forced.counts.passed == forced.counts.total
    # a baseline on the recorded origin is protected as well
    other = shop_suite(origin="http://prod.example")
    guarded = await replay_suite(
        None, other, shop_v1, ReplayOptions(retries=0, only="browser", baseline="http://prod.example")
    )
    assert {r.test_id for r in guarded.results if r.outcome == "skipped"} == {"b-add-to-cart"}  # its click POSTs


async def test_flaky_tests_get_their_likely_cause(shop_v1: str) -> None:
    report = await replay_suite(None, flaky_suite(uuid.uuid4().hex), shop_v1, ReplayOptions(retries=2))
    causes = {r.test_id: (r.outcome, r.flaky_cause, r.attempts) for r in report.results}
    assert causes == {
        "t-flaky-status": ("flaky", "transient_error", 2),
        "t-flaky-state": ("flaky", "missing_state", 2),
        "t-flaky-slow": ("flaky", "timing", 2),
    }
    assert not report.has_regressions
    without_retries = await replay_suite(None, flaky_suite(uuid.uuid4().hex), shop_v1, ReplayOptions(retries=0))
    assert without_retries.counts.failed == 3


async def test_shards_split_the_suite_and_the_run_is_summarised(store: Store, shop_v2: str) -> None:
    suite = shop_suite(browser=False)
    reports = [
        await replay_suite(store, suite, shop_v2, ReplayOptions(shard=Shard(i, 3), run_name="rr-1", retries=0))
        for i in range(3)
    ]
    ran = [r.test_id for rep in reports for r in rep.results]
    assert sorted(ran) == sorted(t.id for t in suite.tests)
    summary = (await summarize_run(store, "rr-1")).model_dump()
    assert summary["shards"] == {"expected": 3, "finished": 3, "running": 0, "errored": 0}
    assert summary["outcome"] == "failed"
    counts = summary["counts"]
    assert counts["total"] == len(suite.tests) and counts["failed"] == 5 and counts["passed"] == 1
    assert 0 < len(summary["regressions"]) <= 10
    first = summary["regressions"][0]
    assert set(first) >= {"test", "step", "endpoint", "assertion", "expected", "actual", "session_id"}
    assert set(first["assertion"]) == {"id", "kind", "description"}
    assert "GET /api/products/{id}" in summary["regressed_endpoints"]
    assert "GET /api/search" in summary["regressed_endpoints"]
    stored = await store.pool.fetchval(
        "SELECT count(*) FROM replay_results r JOIN replay_runs u ON u.id = r.run_id WHERE u.run_name = 'rr-1'"
    )
    assert stored == len(suite.tests)
    assert orjson.dumps(summary)  # the operator puts it in a CR status: JSON-serialisable


async def test_summary_of_a_partial_and_a_flaky_run(store: Store, shop_v1: str) -> None:
    assert (await summarize_run(store, "nothing-yet")).model_dump()["outcome"] == "pending"
    suite = flaky_suite(uuid.uuid4().hex)
    await replay_suite(store, suite, shop_v1, ReplayOptions(shard=Shard(0, 2), run_name="rr-2", retries=2))
    partial = (await summarize_run(store, "rr-2")).model_dump()
    assert partial["outcome"] == "running" and partial["shards"]["finished"] == 1
    await replay_suite(store, suite, shop_v1, ReplayOptions(shard=Shard(1, 2), run_name="rr-2", retries=2))
    summary = (await summarize_run(store, "rr-2")).model_dump()
    assert summary["outcome"] == "passed" and summary["counts"]["flaky"] == 3
    assert {f["cause"] for f in summary["flaky"]} == {"timing", "missing_state", "transient_error"}
    assert "GET /api/flaky/slow" in summary["flaky_endpoints"]


async def test_bad_options_are_refused(shop_v1: str) -> None:
    with pytest.raises(OptionError, match="--target"):
        await replay_suite(None, shop_suite(), "ftp://nope", ReplayOptions())
    with pytest.raises(OptionError, match="concurrency"):
        await replay_suite(None, shop_suite(), shop_v1, ReplayOptions(concurrency=0))


async def test_unsafe_requests_to_third_parties_are_never_sent(shop_v1: str) -> None:
    suite = shop_suite(browser=False)
    flow = next(t for t in suite.tests if t.id == "t-order-invalid")
    step = flow.steps[0]
    assert step.kind == "http"
    third_party = step.model_copy(
        update={"request": step.request.model_copy(update={"url": "https://payments.example.net/charge"})}
    )
    suite.tests[suite.tests.index(flow)] = flow.model_copy(update={"steps": [third_party]})
    for options in (ReplayOptions(retries=0, allow_unsafe_on_origin=True), ReplayOptions(retries=0, baseline=shop_v1)):
        report = await replay_suite(None, suite, shop_v1, options)
        result = next(r for r in report.results if r.test_id == "t-order-invalid")
        assert result.outcome == "skipped" and result.reason and "third party" in result.reason


async def test_browser_checkout_submits_once_and_judges_the_body_it_navigated_away_from(
    shop_v1: str, shop_v2: str
) -> None:
    import aiohttp

    note = uuid.uuid4().hex
    report = await replay_suite(None, checkout_suite(note), shop_v1, ReplayOptions(retries=0))
    assert [r.failures for r in report.results] == [[]]
    assert report.results[0].steps[3].locator == "implicit: submitted by the previous action"
    async with aiohttp.ClientSession() as http, http.get(f"{shop_v1}/api/orders/count?note={note}") as resp:
        assert (await resp.json())["count"] == 1  # one user action, one order
    changed = await replay_suite(None, checkout_suite(uuid.uuid4().hex), shop_v2, ReplayOptions(retries=0))
    failure = next(f for f in changed.regressions if f.assertion_id == "a-order-created-status")
    assert failure.actual == "PENDING" and failure.step_id == "b3"  # the click sent it


async def test_worker_processes_share_the_http_tests(shop_v2: str) -> None:
    base = shop_suite(browser=False)
    tests = [t.model_copy(update={"id": f"{t.id}-{i}"}) for i in range(8) for t in base.tests]  # 48 tests
    suite = base.model_copy(update={"tests": tests})
    report = await replay_suite(None, suite, shop_v2, ReplayOptions(retries=0, workers=2))
    assert [r.test_id for r in report.results] == [t.id for t in tests]  # suite order, nothing lost
    caught = {(f.test_id.rsplit("-", 1)[0], f.assertion_id) for f in report.regressions}
    assert ("t-product", "a-type-price") in caught and ("t-me", "a-present-email") in caught
    assert report.counts.failed == 8 * 5


async def test_missing_credentials_skip_the_test_with_the_reason(shop_v1: str) -> None:
    suite = shop_suite(browser=False)
    profile = AuthProfile(name="ops", kind="headers", headers={"Authorization": ValueFrom(env="TRODDEN_AUTH_NOPE")})
    me = next(t for t in suite.tests if t.id == "t-me").model_copy(update={"id": "t-me-ops", "auth_profile": "ops"})
    suite = suite.model_copy(update={"tests": [me], "auth_profiles": [*suite.auth_profiles, profile]})
    report = await replay_suite(None, suite, shop_v1, ReplayOptions(retries=0))
    result = report.results[0]
    assert result.outcome == "skipped" and result.reason and "TRODDEN_AUTH_NOPE" in result.reason
    assert not report.has_regressions


async def test_a_target_that_does_not_answer_fails_even_when_the_baseline_is_down_too() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    suite = shop_suite(browser=False)
    report = await replay_suite(None, suite, dead, ReplayOptions(retries=0, baseline=dead))
    assert report.counts.failed == len(suite.tests)
    assert {f.kind for f in report.regressions} == {"connection"}
