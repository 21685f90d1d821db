"""`range`: the field, when it is there, is a number within bounds."""

from __future__ import annotations

from typing import Any, Literal

from trodden.assertions.base import FieldAssertion, Params
from trodden.assertions.observation import Violation
from trodden.assertions.pointer import MISSING


class RangeParams(Params):
    min: int | float | None = None
    max: int | float | None = None


class RangeAssertion(FieldAssertion):
    kind: Literal["range"] = "range"
    params: RangeParams

    def violated_by(self, value: Any) -> Any:
        if value is MISSING:
            return None
        low, high = self.params.min, self.params.max
        bounds = {"min": low, "max": high}
        if not isinstance(value, int | float) or isinstance(value, bool):
            return bounds  # not a number at all
        if (low is not None and value < low) or (high is not None and value > high):
            return bounds
        return None

    def show(self, violation: Violation) -> str:
        return f"{violation.field} = {violation.actual!r} outside [{self.params.min}, {self.params.max}]"
