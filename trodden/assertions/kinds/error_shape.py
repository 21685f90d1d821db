"""`error_shape`: error responses (of one status) keep their structure: keys, types, codes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, JsonValue

from trodden.assertions.base import ExchangeAssertion, Params
from trodden.assertions.observation import JudgeContext, Observation, Violation, preview
from trodden.assertions.pointer import MISSING, resolve
from trodden.assertions.values import same_value, type_matches, type_name


class ErrorShapeParams(Params):
    # pointers (or top-level names) that must be present
    keys: list[str] = Field(default_factory=list, validation_alias=AliasChoices("keys", "fields"))
    shape: dict[str, str] = Field(default_factory=dict, validation_alias=AliasChoices("shape", "types"))  # ptr → type
    values: dict[str, list[JsonValue]] = Field(default_factory=dict)  # ptr → allowed values (error codes)

    def pointers(self) -> list[str]:
        return [key if key.startswith("/") else f"/{key}" for key in self.keys]


class ErrorShapeAssertion(ExchangeAssertion):
    kind: Literal["error_shape"] = "error_shape"
    params: ErrorShapeParams

    @property
    def reads_body(self) -> bool:
        return True

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        p = self.params
        body = obs.body if obs.is_json else MISSING
        missing = [pointer for pointer in p.pointers() if resolve(body, pointer) is MISSING]
        wrong: dict[str, str] = {}
        for pointer, typ in p.shape.items():
            value = resolve(body, pointer)
            if value is MISSING:
                missing.append(pointer)
            elif not type_matches(value, typ):
                wrong[pointer] = type_name(value)
        for pointer, allowed in p.values.items():
            value = resolve(body, pointer)
            if value is not MISSING and not any(same_value(value, v) for v in allowed):
                wrong[pointer] = repr(value)
        if not missing and not wrong:
            return []
        actual = body if body is not MISSING else preview(obs.body)
        return [Violation(obs, self.skeleton(), actual, ", ".join(sorted(set(missing) | set(wrong))))]

    def skeleton(self) -> Any:
        """The expected error body as a document (`{"error": {"code": "<string>"}}`), which reads
        far better next to the actual body than the assertion's parameters do."""
        p = self.params
        skeleton: dict[str, Any] = {}
        entries = [(pointer, "<any>") for pointer in p.pointers()]
        entries += [(pointer, f"<{typ}>") for pointer, typ in p.shape.items()]
        entries += [(pointer, f"<one of {values}>") for pointer, values in p.values.items()]
        for pointer, placeholder in entries:
            node = skeleton
            parts = [part for part in pointer.split("/")[1:] if part]
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            if parts and (parts[-1] not in node or node[parts[-1]] == "<any>"):
                node[parts[-1]] = placeholder
        return skeleton

    def show(self, violation: Violation) -> str:
        return f"{violation.field} not as in {violation.expected} (got {violation.actual!r})"
