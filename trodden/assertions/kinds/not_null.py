"""`not_null`: the field, when it is there, is never null."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from trodden.assertions.base import FieldAssertion, NoParams
from trodden.assertions.observation import Violation


class NotNullAssertion(FieldAssertion):
    kind: Literal["not_null"] = "not_null"
    params: NoParams = Field(default_factory=NoParams)

    needs_json: ClassVar[bool] = True

    def violated_by(self, value: Any) -> Any:
        return "not null" if value is None else None

    def show(self, violation: Violation) -> str:
        return f"{violation.field} is null"
