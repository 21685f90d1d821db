"""`format`: the field, when it is there, is a string of a format (uuid, datetime, email, ...)."""

from __future__ import annotations

from typing import Any, Literal

from trodden.assertions.base import FieldAssertion, Params
from trodden.assertions.observation import Violation
from trodden.assertions.pointer import MISSING
from trodden.assertions.values import format_matches


class FormatParams(Params):
    format: str  # uuid, datetime, date, email, url, numeric, hex


class FormatAssertion(FieldAssertion):
    kind: Literal["format"] = "format"
    params: FormatParams

    def violated_by(self, value: Any) -> Any:
        if value is MISSING or format_matches(value, self.params.format):
            return None
        return self.params.format

    def show(self, violation: Violation) -> str:
        return f"{violation.field} = {violation.actual!r} is not a {violation.expected}"
