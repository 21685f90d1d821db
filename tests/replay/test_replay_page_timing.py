"""Page load bounds settle over the run like API latencies: one slow load among many on a busy
machine makes a test flaky (cause `timing`), a page slow on most of its loads stays a regression."""

from __future__ import annotations

from trodden.replay.results import Failure, TestResult
from trodden.replay.timing import settle_latency

PAGE = "PAGE /books"


def _slow(step: str) -> Failure:
    return Failure(source="assertion", assertion_id="a-1", kind="page_latency", description="pages of /books load",
                   expected="≤ 900 ms", actual="2400 ms", step_id=step, endpoint=PAGE, field="latency")  # fmt: skip


def _browser(i: int, failures: list[Failure]) -> TestResult:
    return TestResult(test_id=f"t{i}", name="b", type="browser", session_id=f"s{i}",
                      outcome="failed" if failures else "passed", attempts=1, failures=failures,
                      endpoints=[PAGE, "GET /api/x", PAGE])  # fmt: skip


def test_one_slow_load_among_many_is_noise_most_slow_loads_are_a_regression() -> None:
    once = [_browser(0, [_slow("b1")]), *(_browser(i, []) for i in range(1, 5))]
    settled = settle_latency(once, 0.5)
    assert (settled[0].outcome, settled[0].flaky_cause) == ("flaky", "timing")

    always = [_browser(i, [_slow("b1"), _slow("b3")]) for i in range(5)]
    assert [r.outcome for r in settle_latency(always, 0.5)] == ["failed"] * 5
