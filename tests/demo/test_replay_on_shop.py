"""Replay behaviours the whole loop depends on, checked on the demo shop (a stateful target):
an unreachable target is never a pass, a failed test reports its first attempt (a retry on a
stateful shop fails differently), browser timings get their own latency slack, and a latency
bound broken by one exchange among many is noise while a slower endpoint is a regression."""

from __future__ import annotations

import uuid

from trodden.assertions import JudgeContext, Observation
from trodden.assertions.kinds.latency import LatencyAssertion, LatencyParams
from trodden.assertions.pointer import MISSING
from trodden.models.suite import (
    BrowserExpectation,
    BrowserStep,
    Expectation,
    HttpRequest,
    HttpStep,
    Suite,
    TestCase,
)
from trodden.replay.options import ReplayOptions
from trodden.replay.oracles import check_assertion
from trodden.replay.results import Failure, StepRecord, TestResult
from trodden.replay.runner import replay_suite
from trodden.replay.timing import settle_latency
from trodden.shop.services import free_port


def _post(step_id: str, endpoint: str, path: str, body: object, status: int) -> HttpStep:
    return HttpStep(
        id=step_id,
        endpoint=endpoint,
        unsafe=True,
        request=HttpRequest(
            method="POST",
            url="{{origin}}" + path,
            body=body,
            body_kind="json",
            headers={"Content-Type": "application/json"},
        ),
        expect=Expectation(status=status),
    )


def _suite(*tests: TestCase) -> Suite:
    return Suite(
        name=f"t-{uuid.uuid4().hex[:8]}",
        revision=1,
        source="test",
        origin="https://shop.example",
        created_at="2026-01-01T00:00:00Z",
        tests=list(tests),
    )


def _register_then_wrong(email: str) -> TestCase:
    """Registers (201 the first time, 409 on any re-run), then a step whose recorded status the
    shop never gives: the real failure is s2's, the re-run's 409 on s1 is an artefact."""
    register = _post(
        "s1",
        "POST /api/auth/register",
        "/api/auth/register",
        {"email": email, "password": "correct horse", "name": "Ada", "region": "EU"},
        201,
    )
    wrong = _post("s2", "POST /api/cart/items", "/api/cart/items", {"sku": "SHOE-004"}, 201)  # 409: out of stock
    return TestCase(id="t-register", name="register then add", type="http", session_id="s-1", steps=[register, wrong])


async def test_a_failed_test_reports_its_first_attempt_not_a_retry_that_failed_differently(
    shop_urls: dict[str, str],
) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    report = await replay_suite(
        None,
        _suite(_register_then_wrong(email)),
        shop_urls["v1"],
        ReplayOptions(retries=1, allow_unsafe_on_origin=True),
    )
    result = report.results[0]
    assert result.outcome == "failed" and result.attempts == 2
    statuses = {(f.step_id, f.actual) for f in result.failures if f.kind == "status"}
    assert statuses == {("s2", 409)}  # not the retry's ("s1", 409): the email was already taken


async def test_target_and_baseline_both_down_is_a_regression_not_a_pass() -> None:
    down_target, down_baseline = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    http = TestCase(
        id="t-http",
        name="list",
        type="http",
        session_id="s-1",
        steps=[
            HttpStep(
                id="s1",
                endpoint="GET /api/products",
                request=HttpRequest(method="GET", url="{{origin}}/api/products"),
                expect=Expectation(status=200),
            )
        ],
    )
    browser = TestCase(
        id="t-browser",
        name="home",
        type="browser",
        session_id="s-2",
        steps=[BrowserStep(id="b1", action="goto", url="{{origin}}/", expect=BrowserExpectation(url="/"))],
    )
    report = await replay_suite(
        None, _suite(http, browser), down_target, ReplayOptions(baseline=down_baseline, retries=0)
    )
    assert report.has_regressions
    assert {r.test_id: r.outcome for r in report.results} == {"t-http": "failed", "t-browser": "failed"}
    kinds = {(f.test_id, f.kind) for f in report.regressions}
    assert kinds == {("t-http", "connection"), ("t-browser", "connection")}


def test_browser_timings_get_the_wider_latency_slack() -> None:
    bound = LatencyAssertion(
        id="a-lat", endpoint="GET /api/products", support=40, confidence=0.99, params=LatencyParams(max_ms=80)
    )
    ctx = JudgeContext(latency_slack_ms=100, browser_latency_slack_ms=1000)

    def timed(ms: float, in_browser: bool) -> Observation:
        return Observation(
            method="GET",
            url="http://t/api/products",
            endpoint="GET /api/products",
            status=200,
            headers={},
            body=MISSING,
            duration_ms=ms,
            in_browser=in_browser,
        )

    assert check_assertion(bound, timed(175, False), ctx) == []
    assert check_assertion(bound, timed(400, False), ctx)  # +300 ms: the planted slowdown
    assert check_assertion(bound, timed(700, True), ctx) == []  # Chromium's queueing on a busy machine
    assert check_assertion(bound, timed(1200, True), ctx)


def _result(test_id: str, slow_steps: list[str], other: list[str] | None = None) -> TestResult:
    """An HTTP test that timed s1..s3 on GET /api/products; `slow_steps` broke the latency bound."""
    steps = [StepRecord(step_id=f"s{i}", kind="http", endpoint="GET /api/products", status=200) for i in (1, 2, 3)]
    failures = [
        Failure(
            source="assertion",
            assertion_id="a-lat",
            kind="latency",
            description="slow",
            step_id=s,
            endpoint="GET /api/products",
            field="latency",
        )
        for s in slow_steps
    ]
    failures += [
        Failure(
            source="expectation",
            assertion_id="expect:status",
            kind="status",
            description="status",
            step_id=s,
            endpoint="GET /api/products",
            field="status",
        )
        for s in other or []
    ]
    return TestResult(
        test_id=test_id,
        name=test_id,
        type="http",
        session_id="s",
        steps=steps,
        failures=failures,
        outcome="failed" if failures else "passed",
    )


def test_a_lone_slow_exchange_is_noise_but_a_slow_endpoint_is_a_regression() -> None:
    noise = [_result("t1", ["s2"]), _result("t2", []), _result("t3", [], ["s3"]), _result("t4", ["s1"], ["s3"])]
    settled = {r.test_id: r for r in settle_latency(noise, quorum=0.5)}  # 2 slow of 12 timed exchanges
    assert (settled["t1"].outcome, settled["t1"].flaky_cause) == ("flaky", "timing")
    assert settled["t3"].outcome == "failed"
    assert settled["t4"].outcome == "failed" and [f.kind for f in settled["t4"].failures] == ["status"]
    slower = [_result(f"t{i}", ["s1", "s2", "s3"] if i % 4 else ["s1"]) for i in range(8)]  # 18 of 24
    assert [r.outcome for r in settle_latency(slower, quorum=0.5)] == ["failed"] * 8
    assert settle_latency(noise, quorum=0.01)[0].outcome == "failed"  # a tiny quorum: every slow exchange counts
