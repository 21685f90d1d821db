"""Latency judged against the baseline measured in the same run.

A mined bound ("within 4,126 ms") comes from production, recorded on whatever machine and load
that was; a replay machine is slower or faster. The baseline replayed in the same run, on the same
machine at the same time, is the reference: a step regressed when the target took more than
`ratio` times the slower of the baseline's two replays + `floor_ms` (a ratio alone would flag 3 ms →
9 ms; a floor alone would miss 2 s → 5 s). One exchange can be slow by accident; the verdict
settles per endpoint over the run (`timing.settle_latency`: median against median).

Timed are: each HTTP step the replayer sent (its redirect hops added up), and, in browser tests,
each request the page made on an endpoint the suite knows and each page a step arrived at: the
document's load time when the step loaded one, the time until the page settled when the action
changed the page in place (an SPA route, a form that answers in place). Timings taken in
Chromium include its queueing and the page's own work, so they have their own ratio and floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from trodden.assertions import Observation
from trodden.replay.execution import Execution
from trodden.replay.pages import PAGE_METHOD
from trodden.replay.results import Failure, Timing

# the kinds of mined timing bounds a baseline re-judges
TIMING_KINDS = frozenset({"latency", "page_latency"})


@dataclass(frozen=True)
class BaselineLatency:
    """Slower than the baseline: more than `ratio` times its time + `floor_ms`, as a median over at
    least `min_samples` timings of the endpoint in the run (`timing.not_slower_than_baseline`)."""

    ratio: float = 2.0
    floor_ms: float = 200.0
    min_samples: int = 1
    # judge the run by pairs (each timing against the baseline's for the same step, taken at the
    # same time): slower when the median of the differences is over the floor and the median time
    # over ratio times the baseline's; else by the medians alone (median > ratio * median + floor)
    paired: bool = False

    def limit(self, baseline_ms: float) -> float:
        return baseline_ms * self.ratio + self.floor_ms

    def slower(self, times: list[float], baseline: list[float]) -> bool:
        """Whether an endpoint's timings over the run (with the baseline's for the same steps) say slower."""
        if len(times) < self.min_samples:
            return False
        if self.paired:
            return median(t - b for t, b in zip(times, baseline, strict=True)) > self.floor_ms and median(
                times
            ) > self.ratio * median(baseline)
        return median(times) > self.limit(median(baseline))


@dataclass(frozen=True)
class LatencyRules:
    """The baseline comparison for timings the replayer takes itself, and for those taken in Chromium."""

    http: BaselineLatency = BaselineLatency()
    # One page load in Chromium on a loaded machine can take three times as long as the same load a
    # moment before: a page is slower only by the median of at least three of its loads or settles.
    # Paired: a page load varies by seconds with the machine's load, which the target and the
    # baseline's first replay, run at the same time, share; their difference varies much less.
    browser: BaselineLatency = BaselineLatency(1.25, 150.0, min_samples=3, paired=True)

    def of(self, in_browser: bool) -> BaselineLatency:
        return self.browser if in_browser else self.http


@dataclass(frozen=True)
class _Timed:
    step_id: str
    endpoint: str
    ms: float
    url: str
    in_browser: bool
    document: bool | None = None  # pages: a document load (True) or a settle in place (False)


def _page_timing(obs: Observation) -> float | None:
    """A page's time: its document's load, else its settle after the action; None when neither was measured."""
    return obs.duration_ms if obs.duration_ms > 0 else None


def timed(exe: Execution) -> dict[str, _Timed]:
    """What the replay timed in one execution, by a key that aligns target and baseline."""
    out: dict[str, _Timed] = {}
    for obs in exe.observations:
        if obs.step_id is None or obs.endpoint is None:
            continue
        if not obs.in_browser:  # a step's redirect hops share its key
            prev = out.get(obs.step_id)
            ms = obs.duration_ms + (prev.ms if prev else 0.0)
            out[obs.step_id] = _Timed(obs.step_id, prev.endpoint if prev else obs.endpoint, ms, obs.url, False)
        elif obs.method == PAGE_METHOD:
            ms_page = _page_timing(obs)
            if ms_page is not None:
                document = bool(obs.extra.get("document"))
                out[obs.key] = _Timed(obs.step_id, obs.endpoint, ms_page, obs.url, True, document)
        elif obs.status:
            out[obs.key] = _Timed(obs.step_id, obs.endpoint, obs.duration_ms, obs.url, True)
    return out


def _pairs(target: Execution, base1: Execution, base2: Execution) -> dict[str, tuple[_Timed, float]]:
    """Each timing of the target with the slower baseline replay's time for the same thing."""
    t, b1, b2 = timed(target), timed(base1), timed(base2)
    out: dict[str, tuple[_Timed, float]] = {}
    for key, mine in t.items():
        one, two = b1.get(key), b2.get(key)
        if one is None or two is None or one.endpoint != mine.endpoint:
            continue
        if not (mine.document == one.document == two.document):
            continue  # a load on one side and a change in place on another are not the same thing
        out[key] = (mine, max(one.ms, two.ms))
    return out


def baseline_timings(target: Execution, base1: Execution, base2: Execution) -> list[Timing]:
    """The target's timings with the baseline's, for the run-level verdict (`timing.settle_latency`);
    HTTP step records show the baseline's time too."""
    pairs = _pairs(target, base1, base2)
    by_step = {mine.step_id: base for mine, base in pairs.values() if not mine.in_browser}
    for record in target.steps:
        if record.kind == "http" and record.step_id in by_step:
            record.baseline_ms = by_step[record.step_id]
    return [
        Timing(
            endpoint=mine.endpoint,
            step_id=mine.step_id,
            ms=round(mine.ms, 1),
            baseline_ms=round(base, 1),
            in_browser=mine.in_browser,
        )
        for mine, base in pairs.values()
    ]


def latency_against_baseline(
    kept: list[Failure], target: Execution, base1: Execution, base2: Execution, rules: LatencyRules
) -> list[Failure]:
    """Mined timing bounds re-judged against the baseline (a bound the loaded baseline breaks as
    well says the machine is slow, not the target), plus a finding for each timing much slower than
    on the baseline even within its mined bound."""
    pairs = _pairs(target, base1, base2)
    slow = {key: (mine, base) for key, (mine, base) in pairs.items() if mine.ms > rules.of(mine.in_browser).limit(base)}
    compared = {(mine.step_id, mine.endpoint) for mine, _ in pairs.values()}
    slow_at = {(mine.step_id, mine.endpoint): base for mine, base in slow.values()}
    out: list[Failure] = []
    for f in kept:
        where = (f.step_id, f.endpoint)
        if f.kind not in TIMING_KINDS or where not in compared:
            out.append(f)
        elif where in slow_at:
            f.baseline = f"{slow_at[where]:.0f} ms"
            out.append(f)
    reported = {(f.step_id, f.endpoint) for f in out if f.kind in TIMING_KINDS}
    for mine, base in slow.values():
        if (mine.step_id, mine.endpoint) in reported:
            continue
        reported.add((mine.step_id, mine.endpoint))
        rule = rules.of(mine.in_browser)
        what = {None: "slower", True: "the page loaded slower", False: "the page settled slower"}[mine.document]
        out.append(
            Failure(
                source="diff",
                assertion_id="diff:latency",
                kind="latency",
                description=f"{what} than the baseline measured in the same run (> {rule.ratio:g} × baseline "
                f"+ {rule.floor_ms:.0f} ms)",
                expected=f"≤ {rule.limit(base):.0f} ms",
                actual=f"{mine.ms:.0f} ms",
                baseline=f"{base:.0f} ms",
                step_id=mine.step_id,
                endpoint=mine.endpoint,
                field="latency",
                url=mine.url,
            )
        )
    return out
