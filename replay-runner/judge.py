"""Verdicts of one attempt: recorded expectations (already judged while executing) plus every
mined assertion that applies to what was observed, and, with a baseline, Diffy's rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from trodden.assertions import Assertion, ExchangeAssertion, JudgeContext, SequenceAssertion
from trodden.models.suite import TestCase
from trodden.replay.baseline_latency import LatencyRules, latency_against_baseline
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


def chain_break(test_failures: list[Failure], base1: Execution, base1_failures: list[Failure]) -> str | None:
    """Why the test verified nothing, when its chain breaks on the baseline as it does on the target:
    a step the baseline cannot perform either (no response, a value never extracted, an element to
    act on that is not there, or a recorded success answered with a client error: state the test
    assumes and a fresh deployment lacks)."""
    mine = {f.key() for f in test_failures}
    for f in base1_failures:
        if f.key() not in mine:
            continue
        # a browser step whose element is not on the baseline's page either could not be taken there
        broke_here = (f.source == "execution" and f.kind not in _NEVER_EXCUSED) or f.assertion_id == "expect:locator"
        refused = (
            f.assertion_id == "expect:status"
            and isinstance(f.expected, int)
            and f.expected < 400
            and isinstance(f.actual, int)
            and 400 <= f.actual < 500
        )
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
    latency: LatencyRules | None = None,
    page_data: bool = True,
) -> list[Failure]:
    """A finding the baseline shares is not a regression of the target; latency is judged against
    the baseline's own timings; then add the field differences that the two baseline replays do
    not share (Diffy). `page_data`: whether what pages show as data is compared, or only their
    structure (`trodden.replay.state`)."""
    latency = latency or LatencyRules()
    on_baseline = {f.key() for f in base1_failures}
    # A request refused for safety ran nowhere: that the baseline refused it too proves nothing.
    # A target that did not answer (refused, reset, timed out) is a finding whatever the baseline
    # did: with both down, excusing it would turn an outage into a clean run.
    kept = [f for f in target_failures if f.key() not in on_baseline or f.kind in _NEVER_EXCUSED]
    for f in kept:
        f.baseline = "fails on the baseline too" if f.key() in on_baseline else "passes on the baseline"
    kept = latency_against_baseline(kept, target, base1, base2, latency)
    judged_steps_fields = {(f.step_id, f.field) for f in kept}
    status_steps = {f.step_id for f in kept if f.kind == "status"}
    b1 = {o.key: o for o in base1.observations}
    b2 = {o.key: o for o in base2.observations}
    for diff in diff_run(target.observations, b1, b2, page_data=page_data):
        if (diff.step_id, diff.field) in judged_steps_fields:
            continue
        if diff.field == "status" and diff.step_id in status_steps:
            continue
        kept.append(diff)
    return dedupe(kept)
