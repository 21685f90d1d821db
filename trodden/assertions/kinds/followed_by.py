"""`followed_by`: every call of `endpoint` is followed later in the test by a call of `other`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from trodden.assertions.base import NoParams, SequenceAssertion


class FollowedByAssertion(SequenceAssertion):
    kind: Literal["followed_by"] = "followed_by"
    params: NoParams = Field(default_factory=NoParams)

    def holds_at(self, sequence: list[str | None], index: int) -> bool:
        return self.other in sequence[index + 1 :]

    def expected_order(self) -> str:
        return f"{self.endpoint} then {self.other}"
