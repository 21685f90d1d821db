"""Oracles: a step's recorded expectations and the mined assertions, judged on what was observed,
as replay's `Failure`s.

The meaning of every check is `trodden.assertions` (shared with the generator and the exported
pytest files); this module only turns its violations into the findings replay reports.
Semantics of each assertion kind and of `condition` are documented in docs/replay.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trodden.assertions import (
    Assertion,
    AssertionBase,
    ExchangeAssertion,
    Expectation,
    JudgeContext,
    Observation,
    SequenceAssertion,
    Violation,
)
from trodden.assertions import check_expectation as unmet_expectations
from trodden.assertions.observation import show_value
from trodden.replay.results import Failure


def check_expectation(expect: Expectation, obs: Observation, *, status_only: bool = False) -> list[Failure]:
    return [
        Failure(
            source="expectation",
            assertion_id=u.id,
            kind=u.kind,
            description=u.description,
            expected=u.expected,
            actual=show_value(u.actual),
            field=u.field,
            step_id=obs.step_id,
            endpoint=obs.endpoint,
            url=obs.url,
        )
        for u in unmet_expectations(expect, obs, status_only=status_only)
    ]


def failure(a: AssertionBase, v: Violation) -> Failure:
    obs = v.observation
    return Failure(
        source="assertion",
        assertion_id=a.id,
        kind=a.kind,
        description=a.describe(),
        expected=v.expected,
        actual=show_value(v.actual),
        step_id=obs.step_id,
        endpoint=obs.endpoint,
        field=v.field if v.field is not None else a.field,
        url=obs.url,
    )


def check_assertion(a: ExchangeAssertion, obs: Observation, ctx: JudgeContext) -> list[Failure]:
    """Failures of one single-exchange assertion on `obs` (which must be on `a.endpoint`)."""
    return [failure(a, v) for v in a.judge(obs, ctx)]


def check_temporal(
    a: SequenceAssertion, observed: Sequence[Observation], recorded_endpoints: Iterable[str], ctx: JudgeContext
) -> list[Failure]:
    """Failures of a temporal rule over the exchanges one test observed, in order."""
    return [failure(a, v) for v in a.judge_sequence(observed, recorded_endpoints, ctx)]


def index_assertions(
    assertions: Iterable[Assertion],
) -> tuple[dict[str, list[ExchangeAssertion]], list[SequenceAssertion]]:
    """(single-exchange assertions by endpoint, temporal assertions)."""
    by_endpoint: dict[str, list[ExchangeAssertion]] = {}
    temporal: list[SequenceAssertion] = []
    for a in assertions:
        if isinstance(a, SequenceAssertion):
            temporal.append(a)
        else:
            by_endpoint.setdefault(a.endpoint, []).append(a)
    return by_endpoint, temporal
