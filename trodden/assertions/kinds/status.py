"""`status`: every response of the endpoint is in a status class (or one of listed statuses)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from trodden.assertions.base import ExchangeAssertion, Params
from trodden.assertions.observation import JudgeContext, Observation, Violation, status_matches


class StatusParams(Params):
    class_: str | None = Field(None, alias="class")  # "2xx": what the miner asserts
    # statuses or classes allowed, for hand-written suites ("status" and "statuses" read too)
    values: list[int | str] | None = Field(None, validation_alias=AliasChoices("values", "statuses", "status", "in"))
    observed: list[int] = Field(default_factory=list)  # the statuses the miner saw in the class

    @field_validator("values", mode="before")
    @classmethod
    def _one_is_a_list(cls, value: Any) -> Any:
        return value if value is None or isinstance(value, list) else [value]

    @model_validator(mode="after")
    def _something_expected(self) -> StatusParams:
        if self.class_ is None and self.values is None:
            raise ValueError('a status assertion needs `class` (e.g. "2xx") or `values`')
        return self

    @property
    def expected(self) -> Any:
        return self.values if self.values is not None else self.class_


class StatusAssertion(ExchangeAssertion):
    kind: Literal["status"] = "status"
    params: StatusParams

    judged_when_status_only: ClassVar[bool] = True

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        expected = self.params.expected
        return [] if status_matches(obs.status, expected) else [Violation(obs, expected, obs.status, "status")]

    def show(self, violation: Violation) -> str:
        return f"status {violation.actual}, expected {violation.expected}"
