"""`preceded_by`: every call of `endpoint` has a call of `other` before it in the test."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from trodden.assertions.base import NoParams, SequenceAssertion


class PrecededByAssertion(SequenceAssertion):
    kind: Literal["preceded_by"] = "preceded_by"
    params: NoParams = Field(default_factory=NoParams)

    judged_on_a_prefix: ClassVar[bool] = True  # what came before a call is all there, even if the test stopped

    def holds_at(self, sequence: list[str | None], index: int) -> bool:
        return self.other in sequence[:index]

    def expected_order(self) -> str:
        return f"{self.other} then {self.endpoint}"
