"""Page load bounds settle over the run like API latencies: one slow load among many on a busy
machine makes a test flaky (cause `timing`), a page slow on most of its loads stays a regression."""

from __future__ import annotations

from trodden.replay.baseline_latency import BaselineLatency, LatencyRules
from trodden.replay.results import Failure, TestResult, Timing
from trodden.replay.timing import settle_latency

PAGE = "PAGE /books"


def _slow(step: str) -> Failure:
    return Failure(
        source="assertion",
        assertion_id="a-1",
        kind="page_latency",
        description="pages of /books load",
        expected="≤ 900 ms",
        actual="2400 ms",
        step_id=step,
        endpoint=PAGE,
        field="latency",
    )


def _browser(i: int, failures: list[Failure]) -> TestResult:
    return TestResult(
        test_id=f"t{i}",
        name="b",
        type="browser",
        session_id=f"s{i}",
        outcome="failed" if failures else "passed",
        attempts=1,
        failures=failures,
        endpoints=[PAGE, "GET /api/x", PAGE],
    )


def test_one_slow_load_among_many_is_noise_most_slow_loads_are_a_regression() -> None:
    once = [_browser(0, [_slow("b1")]), *(_browser(i, []) for i in range(1, 5))]
    settled = settle_latency(once, 0.5)
    assert (settled[0].outcome, settled[0].flaky_cause) == ("flaky", "timing")

    always = [_browser(i, [_slow("b1"), _slow("b3")]) for i in range(5)]
    assert [r.outcome for r in settle_latency(always, 0.5)] == ["failed"] * 5


def _timed(i: int, ms: float, baseline_ms: float) -> TestResult:
    """A browser test that loaded /books once, and the baseline's time for the same step; a
    latency finding on it as `latency_against_baseline` makes one for a load over 1.25 x + 150 ms."""
    failures = (
        []
        if ms <= 1.25 * baseline_ms + 150
        else [
            Failure(
                source="diff",
                assertion_id="diff:latency",
                kind="latency",
                description="the page loaded slower",
                expected="",
                actual=f"{ms:.0f} ms",
                step_id="b1",
                endpoint=PAGE,
                field="latency",
            )
        ]
    )
    return _browser(i, failures).model_copy(
        update={"timings": [Timing(endpoint=PAGE, step_id="b1", ms=ms, baseline_ms=baseline_ms, in_browser=True)]}
    )


# Django admin's books list on this 2-core machine (load 15-20), ms: each load of the target and
# the slower baseline replay's load for the same step; the target had a planted +400 ms.
PLANTED = [
    (1352, 1075),
    (929, 373),
    (823, 385),
    (1103, 889),
    (683, 805),
    (673, 764),
    (2285, 2090),
    (1044, 699),
    (1498, 498),
    (1019, 580),
    (1923, 1549),
    (1527, 1957),
    (2049, 1120),
    (872, 615),
]
CONTROL = [
    (1015, 920),
    (1238, 771),
    (518, 637),
    (515, 654),
    (465, 388),
    (364, 260),
    (359, 380),
    (144, 1489),
    (748, 362),
    (492, 705),
    (241, 353),
    (327, 295),
    (894, 713),
    (1721, 1378),
]


def test_a_page_slower_than_the_baseline_is_judged_by_pairs_over_the_run() -> None:
    """Page loads vary by seconds on both sides alike; a page 400 ms slower is slower in most pairs
    while the medians of the two sides barely part (1,074 ms against 784 ms, under 1.25 x + 150)."""
    rules = LatencyRules()
    slower = settle_latency([_timed(i, t, b) for i, (t, b) in enumerate(PLANTED)], 0.5, rules)
    assert "failed" in {r.outcome for r in slower}
    control = settle_latency([_timed(i, t, b) for i, (t, b) in enumerate(CONTROL)], 0.5, rules)
    assert {r.outcome for r in control} <= {"passed", "flaky"}
    # the medians alone (the rule for the replayer's own timings) would not tell
    assert not BaselineLatency(1.25, 150.0).slower([t for t, _ in PLANTED], [b for _, b in PLANTED])
