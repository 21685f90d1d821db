"""PII sanitisation rules beyond the built-ins, as a RumSource declares them.

The operator writes this document into the ConfigMap `<rumsource>-sanitization` (key `rules.json`);
the collector reads it with `trodden collect --sanitization-file PATH` (and `trodden ingest` too).

`BuiltinRule` is the one list of the sanitiser's built-in rules: the collector switches them by
these names, the CRD's `disableBuiltins` enum and this model's field are derived from it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BuiltinRule(StrEnum):
    """A built-in detector of the sanitiser, by the name `disable_builtins` takes."""

    EMAIL = "email"
    CARD = "card"
    PHONE = "phone"
    IBAN = "iban"
    NATIONAL_ID = "national_id"  # SSNs and other national identifiers with a checksum (python-stdnum)
    JWT = "jwt"
    BEARER = "bearer"
    SECRET_FORMAT = "secret_format"  # known token formats and high-entropy strings (detect-secrets)
    IP = "ip"
    PASSWORD = "password"  # secret-named fields and masked inputs
    AUTH_HEADERS = "auth_headers"
    FREE_TEXT = "free_text"  # typed text kept raw only once k distinct users sent it


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
    # Free text typed by people is stored raw once this many distinct users of the source sent it.
    free_text_min_users: int = Field(5, ge=1, le=1000)
