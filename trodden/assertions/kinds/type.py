"""`type`: the field, when it is there, has a JSON type (or one of several)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from trodden.assertions.base import FieldAssertion, Params
from trodden.assertions.observation import Violation
from trodden.assertions.pointer import MISSING
from trodden.assertions.values import type_matches, type_name


class TypeParams(Params):
    type: str | None = None  # "number" accepts integers
    types: list[str] | None = None  # e.g. ["string", "null"] for a nullable field

    @model_validator(mode="after")
    def _a_type(self) -> TypeParams:
        if not self.allowed:
            raise ValueError("a type assertion needs `type` or `types`")
        return self

    @property
    def allowed(self) -> list[str]:
        return self.types or ([self.type] if self.type else [])


class TypeAssertion(FieldAssertion):
    kind: Literal["type"] = "type"
    params: TypeParams

    def violated_by(self, value: Any) -> Any:
        allowed = self.params.allowed
        if value is MISSING or any(type_matches(value, t) for t in allowed):
            return None
        return allowed[0] if len(allowed) == 1 else allowed

    def show(self, violation: Violation) -> str:
        expected = " or ".join(self.params.allowed)
        return f"{violation.field} is {type_name(violation.actual)}, expected {expected}"
