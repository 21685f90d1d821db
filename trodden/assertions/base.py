"""The common shape of a mined assertion, and the two families of kinds.

An assertion kind is one class (one module under `trodden.assertions.kinds`): its `params` model
and how it judges what was observed and shows a failure. `ExchangeAssertion`s are judged on each
response of their endpoint, `SequenceAssertion`s over the order of the endpoints one test called.
`FieldAssertion`s are exchange assertions about one field of a JSON body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from trodden.assertions.observation import JudgeContext, Observation, Violation, condition_holds, preview, show_value
from trodden.assertions.pointer import resolve_all


class IRModel(BaseModel):
    """A model of the suite IR: unknown fields are refused, aliases are what is written."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Params(IRModel):
    """An assertion kind's parameters. Unset optional ones are left out of the IR."""

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class NoParams(Params):
    """Kinds whose meaning is in `field`, `endpoint` and `other` alone."""


class AssertionBase(IRModel):
    """A mined invariant. `endpoint` is "METHOD /route"; temporal kinds name a second one in `other`.

    `condition` (e.g. `{"status": 200}`, `{"auth": "user"}`) says which exchanges the assertion
    is about; see `condition_holds`.
    """

    id: str
    kind: str
    endpoint: str
    field: str | None = None  # JSON pointer into the response body
    other: str | None = None  # the second endpoint of a temporal/co-occurrence rule
    params: Any = None  # each kind narrows it to its own model
    condition: dict[str, Any] = Field(default_factory=dict)  # e.g. {"status": 200}, {"auth": "user"}
    support: int
    confidence: float
    sessions: list[str] = Field(default_factory=list)  # a sample of the sessions it came from
    description: str = ""

    temporal: ClassVar[bool] = False
    # Kinds about one field of the body: not reported on a step whose status already failed
    # (they would only repeat that finding in many words).
    field_rule: ClassVar[bool] = False
    # The one kind a status-code-only replay (the peer of bench/detection.py) judges.
    judged_when_status_only: ClassVar[bool] = False
    # About timing: a recording says nothing about how fast a replay will be, so the generator does
    # not hold its own recordings against it, and a single exported test does not judge it (replay
    # settles it over the whole run).
    about_timing: ClassVar[bool] = False
    # Judged on what a browser observed of a page (its document load, its outline), not on an HTTP
    # exchange: the exported HTTP tests never meet it.
    on_pages: ClassVar[bool] = False

    @property
    def reads_body(self) -> bool:
        """Whether judging it needs the response body (browser replay reads those bodies)."""
        return bool(self.field)

    def describe(self) -> str:
        if self.description:
            return self.description
        where = f"{self.endpoint} {self.field}" if self.field else self.endpoint
        params = self.params.model_dump(exclude_defaults=True) if isinstance(self.params, BaseModel) else {}
        detail = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
        return f"{where}: {self.kind}" + (f" ({detail})" if detail else "")

    def show(self, violation: Violation) -> str:
        """One line saying what went wrong, for people reading a test's output."""
        where = violation.field or self.field or self.endpoint
        return f"{where}: {show_value(violation.actual)!r}, expected {violation.expected!r}"


class ExchangeAssertion(AssertionBase):
    """Judged on every observed response of `endpoint` whose `condition` holds."""

    def judge(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        """The violations of this assertion on `obs` (which must be on `self.endpoint`)."""
        if ctx.status_only and not self.judged_when_status_only:
            return []
        if not condition_holds(self.condition, obs, ctx):
            return []
        if self.reads_body and not obs.body_read:
            return []
        return self.check(obs, ctx)

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        raise NotImplementedError


class FieldAssertion(ExchangeAssertion):
    """About `field` (a pointer; `*` for every array item) in a JSON body. Absent fields are
    `present`'s business: the other kinds judge a field when it is there."""

    field_rule: ClassVar[bool] = True
    needs_json: ClassVar[bool] = False  # a non-JSON body fails it (it promises the field exists)
    max_violations: ClassVar[int] = 5  # "every item" rules: five examples say enough

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        if not self.field:
            return []
        if not obs.is_json:
            return [Violation(obs, "a JSON body", preview(obs.body), self.field)] if self.needs_json else []
        out: list[Violation] = []
        for pointer, value in resolve_all(obs.body, self.field):
            expected = self.violated_by(value)
            if expected is not None:
                out.append(Violation(obs, expected, value, pointer))
        return out[: self.max_violations]

    def violated_by(self, value: Any) -> Any:
        """The expected side of the failure when `value` (maybe MISSING) violates it, else None."""
        raise NotImplementedError


class SequenceAssertion(AssertionBase):
    """A rule over the endpoints one test called, in order. Judged only when the recorded test
    itself held both endpoints, so a session that ended early never raises an alarm."""

    temporal: ClassVar[bool] = True
    # Whether a test that stopped early (a prefix of its sequence) can still break it.
    judged_on_a_prefix: ClassVar[bool] = False

    def judge_sequence(
        self, observed: Sequence[Observation], recorded_endpoints: Iterable[str], ctx: JudgeContext
    ) -> list[Violation]:
        if ctx.status_only or not self.other:
            return []
        recorded = set(recorded_endpoints)
        if self.endpoint not in recorded or self.other not in recorded:
            return []
        return self.check_sequence(observed, ctx)

    def check_sequence(self, observed: Sequence[Observation], ctx: JudgeContext) -> list[Violation]:
        """The first call of `endpoint` (whose condition holds) at which the rule breaks."""
        sequence = [o.endpoint for o in observed]
        for index, obs in enumerate(observed):
            relevant = obs.endpoint == self.endpoint and condition_holds(self.condition, obs, ctx)
            if relevant and not self.holds_at(sequence, index):
                return [self._violation(observed, obs)]
        return []

    def holds_at(self, sequence: list[str | None], index: int) -> bool:
        """Whether the rule holds for the call of `endpoint` at `index` of the test's sequence."""
        raise NotImplementedError

    def expected_order(self) -> str:
        raise NotImplementedError

    def _violation(self, observed: Sequence[Observation], at: Observation) -> Violation:
        seen = [o.endpoint for o in observed if o.endpoint][:12]
        return Violation(at, self.expected_order(), " → ".join(seen), "sequence")

    def show(self, violation: Violation) -> str:
        return f"expected {violation.expected}, the test called {violation.actual or 'nothing'}"
