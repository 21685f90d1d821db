"""PII sanitisation rules beyond the built-ins, as a RumSource declares them.

The operator writes this document into the ConfigMap `<rumsource>-sanitization` (key `rules.json`);
the collector reads it with `trodden collect --sanitization-file PATH` (and `trodden ingest` too).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BuiltinRule = Literal["email", "card", "phone", "iban", "jwt", "bearer", "ip", "password", "auth_headers"]


class SanitizationRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["json_path", "header", "regex", "query_param", "selector"]
    # json_path: "$.customer.name" style path into request/response bodies and custom-event properties;
    # header: a header name (case-insensitive); regex: a pattern matched in any string value;
    # query_param: a URL query parameter name; selector: a CSS selector of inputs to mask in the tag.
    match: str = Field(min_length=1, max_length=1024)
    action: Literal["pseudonymize", "redact", "drop"] = "pseudonymize"


class SanitizationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[SanitizationRule] = Field(default_factory=list)
    disable_builtins: list[BuiltinRule] = Field(default_factory=list)
