"""`present`: the field is in every object that could hold it."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from trodden.assertions.base import FieldAssertion, NoParams
from trodden.assertions.observation import JudgeContext, Observation, Violation
from trodden.assertions.pointer import MISSING, resolve_all, unescape


def missing_fields(body: Any, pointer: str) -> list[str]:
    """Where `pointer`'s last key is absent from a parent object that exists: presence is judged
    relative to the container, as it was mined (a missing parent is its own finding)."""
    head, _, last = pointer.rpartition("/")
    key = unescape(last)
    return [
        f"{path}/{last}" for path, parent in resolve_all(body, head) if isinstance(parent, dict) and key not in parent
    ]


class PresentAssertion(FieldAssertion):
    kind: Literal["present"] = "present"
    params: NoParams = Field(default_factory=NoParams)

    needs_json: ClassVar[bool] = True

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        if not self.field or not obs.is_json:
            return super().check(obs, ctx)
        found = missing_fields(obs.body, self.field)[: self.max_violations]
        return [Violation(obs, "present", MISSING, pointer) for pointer in found]

    def show(self, violation: Violation) -> str:
        return f"{violation.field} missing"
