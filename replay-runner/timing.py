"""Latency verdicts settle over the whole run (one shard), not per exchange.

A regression that makes an endpoint slower makes it slower every time: in this run most of the
endpoint's timed exchanges break its bound. A single slow exchange among many fast ones is the
replay machine's noise (Chromium starting, a GC pause, a neighbour's build on a 2-core box). So a
latency failure counts only when the endpoint broke its bound in at least `quorum` of the
exchanges the replayer timed for it in HTTP tests; otherwise the failure is noise and a test that
failed on nothing else becomes *flaky* with cause `timing` (reported, never failing the run).

With a baseline, the same holds against the baseline's own timings (`baseline_latency`): a
latency failure counts only when the endpoint's median time over the run is more than ratio times
the baseline's median for the same steps + the floor: a step that was slow once, on a loaded
machine, while the endpoint kept pace with the baseline everywhere else, is noise. Timings taken
in Chromium (pages' loads and settles, the requests a page made) are settled so too, with their
own ratio and floor, apart from the replayer's own for the same endpoint, only by at least three of
them (one load in Chromium on a loaded machine varies too much to tell), and by pairs: the median
of the differences between each timing and the baseline's for the same step (taken at the same
time, so under the same load) must be over the floor.

Without a baseline, browser tests' network timings are left as they are: they are judged against
the much wider browser slack already, and their exchanges are not timed by the replayer itself.
Pages are settled the same way as HTTP endpoints: a `page_latency` failure counts only when the
page broke its bound in at least `quorum` of the steps that observed it in the run (browser
tests, every page observation of its endpoint), since one slow load among many on a loaded
machine is noise too.
"""

from __future__ import annotations

from collections import Counter

from trodden.replay.baseline_latency import LatencyRules
from trodden.replay.results import Failure, TestResult


def noisy_latency_endpoints(results: list[TestResult], quorum: float) -> set[str]:
    """Endpoints whose latency failures in HTTP tests fall short of `quorum` of their timed exchanges."""
    timed: Counter[str] = Counter(
        s.endpoint
        for r in results
        if r.type == "http"
        for s in r.steps
        if s.kind == "http" and s.endpoint and s.error is None
    )
    timed.update(e for r in results if r.type == "browser" for e in r.endpoints if e.startswith(_PAGE))
    slow: Counter[str] = Counter()
    for r in results:
        if r.outcome == "failed" and r.type in _SETTLED:
            # one per slow step: a step's exchanges (redirect hops) share its timing
            slow.update(
                endpoint
                for _step, endpoint in {
                    (f.step_id, f.endpoint) for f in r.failures if _settled(f, r.type) and f.endpoint
                }
            )
    return {e for e, n in slow.items() if n < quorum * max(timed.get(e, 0), n)}


def not_slower_than_baseline(results: list[TestResult], latency: LatencyRules) -> set[str]:
    """Endpoints whose median time over the run is within `latency` of the median time the baseline
    took for the same steps: the target is not slower there, whatever one exchange did. Browser
    timings and the replayer's own are judged apart (an endpoint can be both)."""
    target: dict[tuple[str, bool], list[float]] = {}
    baseline: dict[tuple[str, bool], list[float]] = {}
    for r in results:
        for t in r.timings:
            target.setdefault((t.endpoint, t.in_browser), []).append(t.ms)
            baseline.setdefault((t.endpoint, t.in_browser), []).append(t.baseline_ms)
    slower = {
        endpoint
        for (endpoint, in_browser), times in target.items()
        if latency.of(in_browser).slower(times, baseline[(endpoint, in_browser)])
    }
    return {endpoint for endpoint, _ in target} - slower


def settle_latency(results: list[TestResult], quorum: float, baseline: LatencyRules | None = None) -> list[TestResult]:
    """The results with latency noise taken out of failed HTTP tests (see the module docstring);
    with a baseline, also the endpoints that are not slower than it over the run."""
    noisy = noisy_latency_endpoints(results, quorum)
    if baseline is not None:
        # the baseline's verdict over the run decides where there is one: slower is never noise
        timed = {t.endpoint for r in results for t in r.timings}
        fine = not_slower_than_baseline(results, baseline)
        noisy = (noisy - (timed - fine)) | fine
    if not noisy:
        return results
    out: list[TestResult] = []
    for r in results:
        if r.type not in _SETTLED or r.outcome != "failed":
            out.append(r)
            continue
        noise = [f for f in r.failures if _settled(f, r.type) and f.endpoint in noisy]
        if not noise:
            out.append(r)
        elif len(noise) == len(r.failures):
            out.append(r.model_copy(update={"outcome": "flaky", "flaky_cause": "timing"}))
        else:
            out.append(r.model_copy(update={"failures": [f for f in r.failures if f not in noise]}))
    return out


_PAGE = "PAGE "
# the timing kinds settled over the run, by test type (browser tests: mined page bounds, and the
# baseline's verdict on pages and on the page's requests)
_SETTLED = {"http": frozenset({"latency"}), "browser": frozenset({"page_latency", "latency"})}


def _settled(failure: Failure, test_type: str) -> bool:
    return failure.kind in _SETTLED[test_type] and failure.endpoint is not None
