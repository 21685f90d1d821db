"""Known test values behind their pseudonyms.

The collector replaces secrets and personal data by keyed pseudonyms (consistent within a source),
so a session that paid with the test card token `tok_visa` is stored with `tok_njavzmzcga`; replayed
as stored, the request is refused. Teams know their test fixtures (test card tokens, test
accounts' passwords and emails): given those values, this module computes their pseudonyms under
the source's key, exactly as the collector did, so generation can put the real value back where
a session carries its pseudonym. Values not listed stay pseudonymised.
"""

from __future__ import annotations

from collections.abc import Iterable

from trodden.collector.sanitize import Sanitizer


def known_pseudonyms(key: bytes, values: Iterable[str]) -> dict[str, str]:
    """pseudonym → value for each value, under every form the collector could have given it
    (a secret by field name, personal data found in text, an opaque token)."""
    sanitizer = Sanitizer(key)
    out: dict[str, str] = {}
    for value in values:
        if not value:
            continue
        for form in (sanitizer.secret(value), sanitizer.text(value), sanitizer.pseudo.token(value)):
            if form != value:
                out.setdefault(form, value)
    return out
