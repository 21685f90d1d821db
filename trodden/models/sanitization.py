"""PII sanitisation rules beyond the built-ins, as a RumSource declares them.

The operator writes this document into the ConfigMap `<rumsource>-sanitization` (key `rules.json`);
the collector reads it with `trodden collect --sanitization-file PATH` (and `trodden ingest` too).

`BuiltinRule` is the one list of the sanitiser's built-in rules: the collector switches them by
these names, the CRD's `disableBuiltins` enum and this model's field are derived from it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field

# -- masked display texts: the contract between the collector and what reads events ------------
# A display text (a document title, the name or text of a UI target or of an element that became
# visible, a text of a page outline) that fewer than k distinct users of the source saw is stored
# masked: its first character replaced by MASK_MARK, every other letter and digit by a keyed one
# of the same class (the same text always gives the same mask), spaces and punctuation kept, the
# length unchanged. MASK_MARK is a Unicode noncharacter (U+FDD0, reserved for a program's internal
# use: never in a page's text); the collector removes it from whatever a client sends, so a stored
# text starts with it exactly when the collector masked it. Anything that reads stored events
# tells a masked text by `is_masked`, never by its look, and never uses one as a locator, an
# expected text or a page invariant.
MASK_MARK = "\ufdd0"


class MaskedText(str):
    """A display text the collector masked (see MASK_MARK): its shape, never the text itself."""

    __slots__ = ()


def is_masked(text: object) -> TypeGuard[MaskedText]:
    """Whether a stored display text is a mask rather than what the page showed."""
    return text.__class__ is MaskedText or (isinstance(text, str) and text.startswith(MASK_MARK))


def masked(shape: str) -> MaskedText:
    """The stored form of a masked text, from its keyed shape (the same length as the text)."""
    return MaskedText(MASK_MARK + shape[1:]) if shape else MaskedText(MASK_MARK)


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
    FREE_TEXT = "free_text"  # typed and display text kept raw only once k distinct users sent it


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
    # Free text typed by people, and display texts (titles, names, page outlines), are stored raw
    # once this many distinct users of the source sent them (see MASK_MARK).
    free_text_min_users: int = Field(5, ge=1, le=1000)
