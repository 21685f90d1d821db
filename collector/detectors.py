"""Validators behind the sanitiser's patterns, from well-kept libraries where one exists.

The sanitiser's regular expressions only propose candidates cheaply; whether a candidate is the
thing is decided here:

- phone numbers: Google's libphonenumber (`phonenumbers`) for international forms (`+33 1 23 45 67
  89`, `+447700900123`, `0044 …`); national forms are accepted when formatted like a phone number;
- IBANs (any case), card numbers (Luhn) and US social security numbers: `python-stdnum`;
- UK National Insurance numbers: the prefix rules HMRC publishes (python-stdnum has no module);
- secrets of known formats: the patterns of `detect-secrets`' format plugins (AWS, GitHub,
  GitLab, Slack, Stripe, Twilio, SendGrid, OpenAI, npm, PyPI, Discord, Telegram, Mailchimp, private
  keys …), plus Google API keys, which it lacks;
- high-entropy tokens: `detect-secrets`' Shannon entropy, over runs long enough to be a credential,
  with the alphabet mixes tokens have (see `high_entropy`).
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import Any

import phonenumbers
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.us import ssn as _ssn

# -- phones ---------------------------------------------------------------------------------------
# National numbers formatted like phone numbers: "(555)123-4567", "555.123.4567", "555 123 4567x89".
_NATIONAL_FORMAT = re.compile(
    r"(?:\(\d{2,4}\)\s?|\d{2,4}[ .-])\d{2,4}[ .-]?\d{3,4}(?:\s?(?:x|ext\.?)\s?\d{1,6})?", re.I
)
DEFAULT_REGION = "US"


@lru_cache(maxsize=16384)
def is_phone(candidate: str, region: str = DEFAULT_REGION) -> bool:
    """A phone number: international forms as libphonenumber judges them possible; national forms
    when formatted like one; bare runs of 10-11 digits (shorter bare runs are ids and prices)."""
    text = candidate.strip()
    digits = sum(c.isdigit() for c in text)
    if digits < 7 or digits > 17:
        return False
    international = text.startswith("+") or (text.startswith("00") and not text.isdigit())
    if international:
        try:
            number = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text, None)
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.is_possible_number(number))
    if text.isdigit():
        return 10 <= len(text) <= 11
    return _NATIONAL_FORMAT.fullmatch(text) is not None


# -- numbers with checksums ---------------------------------------------------------------------
def is_card(candidate: str) -> bool:
    digits = "".join(c for c in candidate if c.isdigit())
    return 12 <= len(digits) <= 19 and _luhn.is_valid(digits)


# Card networks' first digits (2-series Mastercard, Amex 3, Visa 4, Mastercard 5, Discover 6): an
# integer that passes Luhn but starts otherwise (a millisecond timestamp, an id) is not a card.
_CARD_FIRST_DIGITS = frozenset("23456")


def is_card_integer(value: int) -> bool:
    """A JSON integer that is a card number (13-19 digits, a network's first digit, Luhn)."""
    if value < 1_000_000_000_000 or value >= 10_000_000_000_000_000_000:
        return False
    text = str(value)
    return text[0] in _CARD_FIRST_DIGITS and _luhn.is_valid(text)


def is_iban(candidate: str) -> bool:
    return bool(_iban.is_valid(candidate))


def is_ssn(candidate: str) -> bool:
    return bool(_ssn.is_valid(candidate))


# HMRC: no D, F, I, Q, U, V in either letter, no O second, prefixes BG, GB, KN, NK, NT, TN, ZZ unused.
_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z](?: ?\d{2}){3} ?[A-D]", re.I)


def is_nino(candidate: str) -> bool:
    return _NINO.fullmatch(candidate) is not None


# -- secrets of known formats (detect-secrets' plugins) -----------------------------------------
_SKIPPED_PLUGINS = {
    # keyword: variable names in source code; basic auth in URLs, JWT, IPs: the sanitiser's own
    # structural rules; SoftLayer/IBM/Cloudant/Artifactory/Azure: keyword-anchored code patterns.
    "KeywordDetector",
    "BasicAuthDetector",
    "JwtTokenDetector",
    "IPPublicDetector",
}


def _known_format_patterns() -> list[str]:
    import detect_secrets.plugins  # noqa: F401  (imports every plugin module)
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    patterns: list[str] = []
    plugin: Any
    for plugin in get_mapping_from_secret_type_to_class().values():
        if not issubclass(plugin, RegexBasedDetector) or plugin.__name__ in _SKIPPED_PLUGINS:
            continue
        regex: re.Pattern[str]
        for regex in plugin.denylist:
            # Code-anchored patterns (quotes, `=`, keywords) describe source files, not values.
            if any(ch in regex.pattern for ch in "'\"=") or regex.pattern.startswith("(?i)"):
                continue
            patterns.append(regex.pattern if not regex.flags & re.I else f"(?i:{regex.pattern})")
    patterns.append(r"AIza[0-9A-Za-z_-]{35}")  # Google API keys (not a detect-secrets plugin)
    return patterns


KNOWN_SECRET_FORMATS = re.compile("|".join(f"(?:{p})" for p in _known_format_patterns()))

# -- entropy ----------------------------------------------------------------------------------
# detect-secrets' measure over the base64 (and base64url) alphabet, limit aside (see `high_entropy`).
_entropy = Base64HighEntropyString(limit=4.5).calculate_shannon_entropy
_TOKEN_RUN_MIN = 16


def high_entropy(run: str) -> bool:
    """A run of token characters that reads as a credential rather than a word or an id.

    detect-secrets' entropy limits (4.5 bits for base64, 3 for hex) are tuned for long keys in
    source files; values in traffic are shorter. Here: at least 16 characters, digits and letters
    of both cases mixed (or, letters only, case changing at least every third character, which
    camelCase words never do), and at least 3.5 bits of Shannon entropy per character. Pure hex and
    pure digits are ids (order numbers, trace ids, digests), never flagged: hex secrets are caught by
    position (cookies, auth headers, secret-named fields) and followed through the session by taint.
    """
    n = len(run)
    if n < _TOKEN_RUN_MIN:
        return False
    core = run.rstrip("=")
    has_upper = has_lower = has_digit = False
    changes = 0
    previous = ""
    for ch in core:
        if "a" <= ch <= "z":
            has_lower = True
            kind = "l"
        elif "A" <= ch <= "Z":
            has_upper = True
            kind = "u"
        elif "0" <= ch <= "9":
            has_digit = True
            kind = "d"
        else:
            kind = "o"
        if previous and kind != previous:
            changes += 1
        previous = kind
    if not (has_upper or has_lower) or (not has_upper and not has_digit):
        return False  # digits only, lowercase only, hex-looking lowercase: an id or a word
    if not has_upper and _is_path(core):
        return False  # "/v1/buckets/default/collections/tasks/records": an API path in a body, not a secret
    if has_digit and not (has_upper and has_lower) and _is_hex(core):
        return False
    if not has_digit and changes * 3 < len(core):
        return False  # camelCase or Capitalised words
    if not has_digit and _WORDS.fullmatch(core):
        return False  # Train-Case words: header names ("Access-Control-Allow-Origin", "X-Content-Type-Options")
    if has_digit and not (has_upper and has_lower) and n < 24:
        return False  # "order123abc", "v2-release-notes": ids and slugs
    return _entropy(core) >= 3.5


# Words joined by `-`, `_` or `.`, each lowercase after an optional capital, or an acronym of up to 3
# capitals ("X-Content-Type-Options"): the separators change the character kind at every word, which
# the camelCase rule reads as a credential's churn; random base64 is never lowercase after each capital.
_WORD = r"(?:[A-Z]{1,3}|[A-Z]?[a-z]+)"
_WORDS = re.compile(rf"{_WORD}(?:[-_.]{_WORD})+")


def _is_path(text: str) -> bool:
    """Segments between slashes, each shorter than a token run: a URL path written in lowercase
    (a batch request's `"path"`), which base64 of random bytes, mixed case by nature, never is."""
    segments = [s for s in text.split("/") if s]
    return len(segments) >= 2 and all(len(s) < _TOKEN_RUN_MIN for s in segments)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF-" for c in text)


# -- base64 ------------------------------------------------------------------------------------
MAX_DECODE_BYTES = 64 * 1024


def decode_base64_text(run: str) -> tuple[str, bool, bool] | None:
    """(text, urlsafe, padded) when `run` is base64 or base64url of UTF-8 text (bounded to
    `MAX_DECODE_BYTES`), else None: binary payloads are left to the entropy rule."""
    if len(run) > MAX_DECODE_BYTES * 4 // 3 + 4 or len(run) < 8:
        return None
    padded = run.endswith("=")
    urlsafe = "-" in run or "_" in run or ("+" not in run and "/" not in run and not padded)
    core = run.rstrip("=")
    if len(core) % 4 == 1:
        return None
    try:
        raw = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(core + "=" * (-len(core) % 4))
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.isprintable() and not all(c.isprintable() or c in "\r\n\t" for c in text):
        return None
    return text, urlsafe, padded


def encode_base64_text(text: str, urlsafe: bool, padded: bool) -> str:
    raw = text.encode("utf-8")
    out = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode("ascii")
    return out if padded else out.rstrip("=")
