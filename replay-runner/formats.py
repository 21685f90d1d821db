"""Types and formats of JSON values, named the way the suite IR names them.

Volatile values (ids, timestamps, tokens) are judged by these, never by value, so each checker
accepts every legitimate spelling of its format and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def type_name(value: Any) -> str:
    """JSON Schema's type names; integers are "integer" (a "number" expectation accepts them)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() and abs(value) < 2**53 else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_TYPE_ALIASES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string", "dict": "object",
                 "list": "array", "none": "null"}


def type_matches(value: Any, expected: str) -> bool:
    expected = _TYPE_ALIASES.get(expected.lower(), expected.lower())
    actual = type_name(value)
    if expected == "number":
        return actual in ("number", "integer")
    return actual == expected


def _is_datetime(value: str) -> bool:
    if len(value) < 11 or _DATE.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_url(value: str) -> bool:
    if value.startswith("/") and not value.startswith("//"):
        return True  # a path on the same origin: what APIs usually return in links
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


_CHECKERS: dict[str, Callable[[str], bool]] = {
    "uuid": lambda v: bool(_UUID.match(v)),
    "email": lambda v: bool(_EMAIL.match(v)),
    "url": _is_url,
    "uri": _is_url,
    "date": _is_date,
    "datetime": _is_datetime,
    "date-time": _is_datetime,
    "numeric": lambda v: bool(_NUMERIC.match(v)),
    "hex": lambda v: bool(_HEX.match(v)),
    "nonempty": lambda v: v.strip() != "",
}


def known_format(name: str) -> bool:
    return name.lower() in _CHECKERS


def format_matches(value: Any, fmt: str) -> bool:
    """True when `value` is a string of format `fmt`. Numbers pass "numeric"; unknown formats pass
    only non-empty strings (an unknown name must not fail every replay)."""
    name = fmt.lower()
    if name == "numeric" and type_name(value) in ("integer", "number"):
        return True
    if not isinstance(value, str):
        return False
    checker = _CHECKERS.get(name, _CHECKERS["nonempty"])
    return checker(value)
