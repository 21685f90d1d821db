"""Verdicts of one attempt: recorded expectations (already judged while executing) plus every
mined assertion that applies to what was observed, and, with a baseline, Diffy's rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from trodden.assertions import Assertion, ExchangeAssertion, JudgeContext, SequenceAssertion
from trodden.models.suite import TestCase
from trodden.replay.execution import Execution, recorded_endpoints
from trodden.replay.noise import diff_run
from trodden.replay.oracles import check_assertion, check_temporal, index_assertions
from trodden.replay.results import Failure

# Findings a baseline cannot excuse (see `against_baseline`).
_NEVER_EXCUSED = frozenset({"safety", "connection", "timeout"})


@dataclass
class Judge:
    by_endpoint: dict[str, list[ExchangeAssertion]]
    temporal: list[SequenceAssertion]

    @classmethod
    def for_assertions(cls, assertions: Iterable[Assertion]) -> Judge:
        by_endpoint, temporal = index_assertions(assertions)
        return cls(by_endpoint, temporal)

    def judge(self, test: TestCase, exe: Execution, ctx: JudgeContext) -> list[Failure]:
        failures = list(exe.failures)
        status_changed = {f.step_id for f in exe.failures if f.assertion_id in ("expect:status", "expect:page-status")}
        for obs in exe.observations:
            if obs.endpoint is None:
                continue
            for assertion in self.by_endpoint.get(obs.endpoint, ()):
                # When a step's status already differs from the recording, field rules on its body
                # would only repeat that finding in many words.
                if assertion.field_rule and obs.step_id in status_changed:
                    continue
                failures.extend(check_assertion(assertion, obs, ctx))
        if self.temporal:
            recorded = recorded_endpoints(list(test.steps))
            for rule in self.temporal:
                # A test that stopped early saw a prefix of its sequence.
                if exe.aborted and not rule.judged_on_a_prefix:
                    continue
                failures.extend(check_temporal(rule, exe.observations, recorded, ctx))
        return dedupe(failures)


def dedupe(failures: list[Failure]) -> list[Failure]:
    seen: set[tuple[str, str | None, str | None]] = set()
    out: list[Failure] = []
    for failure in failures:
        if failure.key() not in seen:
            seen.add(failure.key())
            out.append(failure)
    return out


@dataclass(frozen=True)
class BaselineLatency:
    """Latency judged against the baseline measured in the same run: a step regressed when the
    target took more than `ratio` times the slower baseline pass + `floor_ms` (a ratio alone would
    flag 3 ms → 9 ms; a floor alone would miss 2 s → 5 s)."""

    ratio: float = 2.0
    floor_ms: float = 200.0

    def limit(self, baseline_ms: float) -> float:
        return baseline_ms * self.ratio + self.floor_ms


def _step_durations(exe: Execution) -> dict[str, float]:
    """Each step's time (its hops added up), by step id, for steps the replayer timed itself."""
    out: dict[str, float] = {}
    for obs in exe.observations:
        if obs.step_id is not None and not obs.in_browser:
            out[obs.step_id] = out.get(obs.step_id, 0.0) + obs.duration_ms
    return out


def note_baseline_times(target: Execution, base1: Execution, base2: Execution) -> None:
    """Record on the target's step records how long the slower baseline pass took for each step
    (the run-level latency verdict, `timing.settle_latency`, compares them per endpoint)."""
    b1, b2 = _step_durations(base1), _step_durations(base2)
    for record in target.steps:
        if record.kind == "http" and record.step_id in b1 and record.step_id in b2:
            record.baseline_ms = max(b1[record.step_id], b2[record.step_id])


def _latency_against_baseline(
    kept: list[Failure], target: Execution, base1: Execution, base2: Execution, latency: BaselineLatency
) -> list[Failure]:
    """Mined latency bounds re-judged against the baseline (a bound the loaded baseline breaks as
    well says the machine is slow, not the target), plus a finding for a step that got much slower
    than on the baseline even within its mined bound."""
    t, b1, b2 = _step_durations(target), _step_durations(base1), _step_durations(base2)
    endpoints = {o.step_id: o for o in target.observations if o.step_id is not None}
    out: list[Failure] = []
    slow_steps: set[str] = set()
    for step_id, took in t.items():
        if step_id in b1 and step_id in b2:
            base = max(b1[step_id], b2[step_id])
            if took > latency.limit(base):
                slow_steps.add(step_id)
    for f in kept:
        if f.kind != "latency" or f.step_id not in t or f.step_id not in b1 or f.step_id not in b2:
            out.append(f)
        elif f.step_id in slow_steps:
            f.baseline = f"{max(b1[f.step_id], b2[f.step_id]):.0f} ms"
            out.append(f)
    reported = {f.step_id for f in out if f.kind == "latency"}
    for step_id in sorted(slow_steps - reported):
        base, obs = max(b1[step_id], b2[step_id]), endpoints[step_id]
        out.append(Failure(
            source="diff", assertion_id="diff:latency", kind="latency",
            description=f"slower than the baseline measured in the same run (> {latency.ratio:g} × baseline "
                        f"+ {latency.floor_ms:.0f} ms)",
            expected=f"≤ {latency.limit(base):.0f} ms", actual=f"{t[step_id]:.0f} ms", baseline=f"{base:.0f} ms",
            step_id=step_id, endpoint=obs.endpoint, field="latency", url=obs.url,
        ))  # fmt: skip
    return out


def chain_break(test_failures: list[Failure], base1: Execution, base1_failures: list[Failure]) -> str | None:
    """Why the test verified nothing, when its chain breaks on the baseline as it does on the target:
    a step the baseline cannot perform either (no response, a value never extracted, or a recorded
    success answered with a client error: state the test assumes and a fresh deployment lacks)."""
    mine = {f.key() for f in test_failures}
    for f in base1_failures:
        if f.key() not in mine:
            continue
        broke_here = f.source == "execution" and f.kind not in _NEVER_EXCUSED
        refused = (f.assertion_id == "expect:status" and isinstance(f.expected, int) and f.expected < 400
                   and isinstance(f.actual, int) and 400 <= f.actual < 500)  # fmt: skip
        if broke_here or refused:
            what = f"answered {f.actual} (recorded {f.expected})" if refused else f.description
            return (
                f"chain breaks on the baseline as well: step {f.step_id} {f.endpoint or ''} {what}; "
                "the test verified nothing (state it assumes is not on a fresh deployment)"
            )
    return None


def against_baseline(
    target_failures: list[Failure],
    target: Execution,
    base1: Execution,
    base1_failures: list[Failure],
    base2: Execution,
    *,
    latency: BaselineLatency | None = None,
) -> list[Failure]:
    """A finding the baseline shares is not a regression of the target; latency is judged against
    the baseline's own timings; then add the field differences that the two baseline replays do
    not share (Diffy)."""
    latency = latency or BaselineLatency()
    on_baseline = {f.key() for f in base1_failures}
    # A request refused for safety ran nowhere: that the baseline refused it too proves nothing.
    # A target that did not answer (refused, reset, timed out) is a finding whatever the baseline
    # did: with both down, excusing it would turn an outage into a clean run.
    kept = [f for f in target_failures if f.key() not in on_baseline or f.kind in _NEVER_EXCUSED]
    for f in kept:
        f.baseline = "passes on the baseline"
    kept = _latency_against_baseline(kept, target, base1, base2, latency)
    judged_steps_fields = {(f.step_id, f.field) for f in kept}
    status_steps = {f.step_id for f in kept if f.kind == "status"}
    b1 = {o.key: o for o in base1.observations}
    b2 = {o.key: o for o in base2.observations}
    for diff in diff_run(target.observations, b1, b2):
        if (diff.step_id, diff.field) in judged_steps_fields:
            continue
        if diff.field == "status" and diff.step_id in status_steps:
            continue
        kept.append(diff)
    return dedupe(kept)
