"""`co_occurs`: `endpoint` and `other` are called in the same test, or neither is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from trodden.assertions.base import NoParams, SequenceAssertion
from trodden.assertions.observation import JudgeContext, Observation, Violation, condition_holds


class CoOccursAssertion(SequenceAssertion):
    kind: Literal["co_occurs"] = "co_occurs"
    params: NoParams = Field(default_factory=NoParams)

    def holds_at(self, sequence: list[str | None], index: int) -> bool:
        return self.other in sequence

    def check_sequence(self, observed: Sequence[Observation], ctx: JudgeContext) -> list[Violation]:
        found = super().check_sequence(observed, ctx)
        if found or any(o.endpoint == self.endpoint for o in observed):
            return found
        # symmetric: `other` alone fails too
        alone = next((o for o in observed if o.endpoint == self.other), None)
        if alone is not None and condition_holds(self.condition, alone, ctx):
            return [self._violation(observed, alone)]
        return []

    def expected_order(self) -> str:
        return f"{self.endpoint} with {self.other}"
