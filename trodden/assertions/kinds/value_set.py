"""`value_set`: the field, when it is there, takes one of a few values (null included if mined so)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import JsonValue

from trodden.assertions.base import FieldAssertion, Params
from trodden.assertions.observation import Violation
from trodden.assertions.pointer import MISSING
from trodden.assertions.values import same_value


class ValueSetParams(Params):
    values: list[JsonValue]


class ValueSetAssertion(FieldAssertion):
    kind: Literal["value_set"] = "value_set"
    params: ValueSetParams

    def violated_by(self, value: Any) -> Any:
        if value is MISSING or any(same_value(value, v) for v in self.params.values):
            return None
        return {"one of": self.params.values}

    def show(self, violation: Violation) -> str:
        return f"{violation.field} = {violation.actual!r}, expected one of {self.params.values!r}"
