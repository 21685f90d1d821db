"""Keyed, shape-keeping pseudonyms.

Every function maps a value to a pseudonym with HMAC-SHA256 under the source's key, so the same
value always gets the same pseudonym within a source (a token returned by a login response and sent
in the next request still match after sanitisation), and values from two sources cannot be joined.
The pseudonym keeps the value's shape where practical: an email stays an email, a card number
stays a Luhn-valid number of the same length and grouping, an IBAN keeps its country and valid
check digits, an IP stays an IP of the same family, a token keeps its length and alphabet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import string
from collections.abc import Callable, Iterator
from functools import lru_cache

_TOKEN_PREFIX = re.compile(r"^(?:[A-Za-z]{2,10}_)+")
_HEX = re.compile(r"[0-9a-f-]+|[0-9A-F-]+")
_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_DIGITS = string.digits


class Pseudonymizer:
    """Shape-keeping pseudonyms under one key. Cheap to call repeatedly: results are memoised."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("pseudonym key must not be empty")
        self.key = key
        # Per-instance caches: a session repeats its tokens and emails in many events.
        self.token = lru_cache(maxsize=65536)(self._token)
        self.email = lru_cache(maxsize=65536)(self._email)
        self.card = lru_cache(maxsize=16384)(self._card)
        self.phone = lru_cache(maxsize=16384)(self._phone)
        self.iban = lru_cache(maxsize=16384)(self._iban)
        self.ip = lru_cache(maxsize=16384)(self._ip)
        self.shape_text = lru_cache(maxsize=16384)(self._shape_text)

    # -- the keyed stream -------------------------------------------------------------------
    def _stream(self, kind: str, value: str) -> Iterator[int]:
        """An endless keyed byte stream for (kind, value): HMAC blocks with a counter."""
        counter = 0
        base = kind.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
        while True:
            yield from hmac.new(self.key, base + counter.to_bytes(4, "big"), hashlib.sha256).digest()
            counter += 1

    def digest_hex(self, kind: str, value: str, length: int = 12) -> str:
        return hmac.new(
            self.key, kind.encode() + b"\x00" + value.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()[:length]

    def _shape(self, kind: str, value: str, keep: Callable[[int, str], bool] | None = None) -> str:
        """Replace every letter and digit by a keyed one of the same class; keep everything else."""
        stream = self._stream(kind, value)
        out = []
        for i, ch in enumerate(value):
            if keep is not None and keep(i, ch):
                out.append(ch)
            elif "0" <= ch <= "9":
                out.append(_DIGITS[next(stream) % 10])
            elif "a" <= ch <= "z":
                out.append(_LOWER[next(stream) % 26])
            elif "A" <= ch <= "Z":
                out.append(_UPPER[next(stream) % 26])
            else:
                out.append(ch)
        result = "".join(out)
        if result == value and any(c.isalnum() for c in value):
            # Astronomically unlikely, but a pseudonym must never be the value itself.
            return self._shape(kind + "'", value, keep)
        return result

    # -- shapes -------------------------------------------------------------------------------
    def _token(self, value: str) -> str:
        """Opaque secrets (passwords, bearer tokens, cookie values, API keys): same length and alphabet;
        a vendor prefix such as `tok_` or `sk_live_` is kept, it says what kind of token this is."""
        if len(value) >= 8 and _HEX.fullmatch(value):
            return self._hex(value)
        prefix = _TOKEN_PREFIX.match(value)
        keep = prefix.end() if prefix and prefix.end() < len(value) else 0
        return value[:keep] + self._shape("token", value, keep=None)[keep:] if keep else self._shape("token", value)

    def _shape_text(self, value: str) -> str:
        """Text masked keeping its shape: letters (of any script) become ASCII letters of the same
        case (caseless ones lowercase), digits digits, everything else (spaces, punctuation) as it
        was. ASCII text gets what `_shape` gives it."""
        if value.isascii():
            return self._shape("text", value)
        stream = self._stream("text", value)
        out = []
        for ch in value:
            if ch.isdigit():
                out.append(_DIGITS[next(stream) % 10])
            elif ch.isalpha():
                out.append((_UPPER if ch.isupper() else _LOWER)[next(stream) % 26])
            else:
                out.append(ch)
        return "".join(out)

    def _hex(self, value: str) -> str:
        """Hex stays hex (session ids, UUIDs, digests), in the value's case, dashes kept."""
        stream = self._stream("hex", value)
        digits = "0123456789abcdef" if value.lower() == value else "0123456789ABCDEF"
        out = "".join(ch if ch == "-" else digits[next(stream) % 16] for ch in value)
        return out if out != value else self._hex(value + "'")[: len(value)]

    def _email(self, value: str) -> str:
        _local, _, domain = value.rpartition("@")
        tld = domain.rsplit(".", 1)[-1] if "." in domain else "example"
        if not tld.isalpha():
            tld = "example"
        local = self.digest_hex("email-local", value.lower(), 10)
        host = self.digest_hex("email-domain", domain.lower(), 6)
        return f"u{local}@d{host}.{tld.lower()}"

    def _card(self, value: str) -> str:
        """Same length and grouping; first digit kept (the network); Luhn check digit recomputed."""
        positions = [i for i, c in enumerate(value) if c.isdigit()]
        stream = self._stream("card", "".join(value[i] for i in positions))
        digits = [value[positions[0]]] + [_DIGITS[next(stream) % 10] for _ in positions[1:-1]]
        digits.append(str(luhn_check_digit("".join(digits))))
        if "".join(digits) == "".join(value[i] for i in positions):
            digits[1] = str((int(digits[1]) + 1) % 10)
            digits[-1] = str(luhn_check_digit("".join(digits[:-1])))
        chars = list(value)
        for i, d in zip(positions, digits, strict=True):
            chars[i] = d
        return "".join(chars)

    def _phone(self, value: str) -> str:
        """Digits replaced, formatting (+, spaces, dashes, brackets) kept."""
        return self._shape("phone", value, keep=lambda _i, ch: not ch.isdigit())

    def _iban(self, value: str) -> str:
        """Country kept, BBAN replaced class by class, check digits recomputed (ISO 13616 mod 97)."""
        compact = value.replace(" ", "").upper()
        country, bban = compact[:2], compact[4:]
        new_bban = self._shape("iban", bban)
        check = 98 - int(_iban_numeric(new_bban + country + "00")) % 97
        result = f"{country}{check:02d}{new_bban}"
        if " " in value:
            result = " ".join(result[i : i + 4] for i in range(0, len(result), 4))
        return result

    def _ip(self, value: str) -> str:
        addr = ipaddress.ip_address(value)
        raw = bytes(
            b for b, _ in zip(self._stream("ip", addr.compressed), range(addr.max_prefixlen // 8), strict=False)
        )
        if addr.version == 4:
            # Stay out of 0.x and multicast/reserved space so the result reads as a host address.
            raw = bytes([1 + raw[0] % 223, *raw[1:]])
            return str(ipaddress.IPv4Address(raw))
        return str(ipaddress.IPv6Address(raw))

    def jwt(self, value: str, claims: Callable[[object], object]) -> str:
        """A JWT with its claims passed through `claims` and a keyed signature of the same length."""
        parts = value.split(".")
        header, payload, signature = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
        try:
            import orjson

            decoded = orjson.loads(b64url_decode(payload))
        except (ValueError, binascii.Error):
            return self.token(value)
        new_payload = b64url_encode(_dumps_compact(claims(decoded)))
        new_signature = self._shape("jwt-signature", signature) if signature else ""
        return ".".join([header, new_payload, new_signature, *parts[3:]])

    def basic(self, encoded: str, sanitize_user: Callable[[str], str]) -> str:
        """HTTP Basic credentials: `user:password` inside base64, pseudonymised inside, re-encoded."""
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return self.token(encoded)
        plain = sanitize_user(user) + sep + (self.token(password) if password else "")
        return base64.b64encode(plain.encode("utf-8")).decode("ascii")


def _dumps_compact(value: object) -> bytes:
    import orjson

    return orjson.dumps(value)


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def luhn_check_digit(payload: str) -> int:
    """The digit that makes `payload + digit` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    digits = [c for c in number if c.isdigit()]
    return len(digits) >= 2 and luhn_check_digit("".join(digits[:-1])) == int(digits[-1])


def _iban_numeric(text: str) -> str:
    return "".join(str(int(c, 36)) for c in text)


def iban_valid(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    return int(_iban_numeric(compact[4:] + compact[:4])) % 97 == 1
