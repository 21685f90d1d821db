"""Outcome of a test over its attempts, and the likely cause when it is flaky.

The cause is what the operator feeds back into the instrumentation: a route that is flaky for
timing gets more latency detail, one that depends on state the capture missed gets its
state-carrying requests captured, an unstable selector gets richer element targets.
"""

from __future__ import annotations

from trodden.replay.results import Attempt, FlakyCause, Outcome

_STATE_STATUSES = frozenset({401, 403, 404, 409, 410, 412, 422})


def outcome_of(attempts: list[Attempt]) -> Outcome:
    if not attempts:
        return "skipped"
    if attempts[0].ok:
        return "passed"
    return "flaky" if any(a.ok for a in attempts[1:]) else "failed"


def likely_cause(attempts: list[Attempt]) -> FlakyCause:
    failing = [f for a in attempts if not a.ok for f in a.failures]
    kinds = {f.kind for f in failing}
    statuses = {f.actual for f in failing if f.kind in ("status", "diff") and isinstance(f.actual, int)}
    fallback_used = any((s.locator_index or 0) > 0 for a in attempts for s in a.steps)
    if kinds & {"locator", "visible"}:
        return "unstable_selector"
    if kinds & {"latency", "timeout"}:
        return "timing"
    if kinds & {"extract", "correlation"} or statuses & _STATE_STATUSES:
        return "missing_state"
    if any(s >= 500 for s in statuses) or "connection" in kinds:
        return "transient_error"
    if fallback_used:
        return "unstable_selector"
    if kinds & {"value", "diff", "value_set", "range", "present", "not_null", "visible_text", "url"}:
        return "nondeterministic_data"
    return "unknown"
