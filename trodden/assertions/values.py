"""Types and formats of JSON values, named the way the suite IR names them.

Volatile values (ids, timestamps, tokens) are judged by these, never by value, so each checker
accepts every legitimate spelling of its format and nothing else. The miner and the generator
name what they saw with `json_type` and `detect_format`; a detected format always passes its
checker (`format_matches`), so a recording never contradicts what was mined from it.
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


def json_type(value: Any) -> str:
    """The IR's name of a value's JSON type: `object`, `array`, `string`, `number` (integers
    included), `boolean`, `null`. What the miner and the generator record."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


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


_TYPE_ALIASES = {
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "str": "string",
    "dict": "object",
    "list": "array",
    "none": "null",
}


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


# What the miner calls a value, tried in this order; each pattern is narrower than its checker
# (hex needs 16+ characters with a digit, so words like "cafe" are not hex ids).
_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("uuid", _UUID),
    ("datetime", re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")),
    ("date", _DATE),
    ("email", _EMAIL),
    ("url", re.compile(r"^(https?://|/)[^\s]*$")),
    ("numeric", re.compile(r"^-?\d+(\.\d+)?$")),
    ("hex", re.compile(r"^(?=.*\d)[0-9a-fA-F]{16,}$")),
)


def detect_format(value: Any) -> str | None:
    """The format of a string value (uuid, datetime, date, email, url, numeric, hex), or None."""
    if not isinstance(value, str):
        return None
    for name, pattern in _DETECTORS:
        if pattern.match(value):
            return name if _CHECKERS[name](value) else None
    return None


def same_value(actual: Any, expected: Any) -> bool:
    """JSON equality: `true` is not `1`, `1` is `1.0`."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected or (type(actual) is type(expected) and actual == expected)
    return bool(actual == expected)


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
