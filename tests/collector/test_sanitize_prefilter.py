"""The sanitiser runs, per string, only the built-in patterns that could match it (a speed-up):
its output must be exactly what the whole pattern gives, on any text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from trodden.collector.sanitize import _PII, Sanitizer, _pii_for

# Pieces of every kind of personal data the built-in rules know, and near misses, to glue together.
PIECES = [
    "a@b.example.com",
    "x.y+z@mail.co",
    "4111 1111 1111 1111",
    "4111-1111-1111-1112",
    "5555555555554444",
    "+1 (555) 123-4567",
    "555.123.4567x89",
    "0044 20 7946 0958",
    "06123456789",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "192.168.1.20",
    "10.0.0.1",
    "127.0.0.1",
    "2001:db8::8a2e:370:7334",
    "fe80::1",
    "::1",
    "Bearer abc.def-ghi_123",
    "bearer tok_live_1234567",
    "Basic dXNlcjpwYXNz",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
    "2024-11-05T10:20:30Z",
    "/products/350?ref=home",
    "12:30",
    "v1.2.3.4",
    "١٢٣٤٥٦٧٨٩٠١٢",
    "Ünïcode 555 123 4567",
    "４１１１ １１１１ １１１１ １１１１",
    "4111\u00a01111\u00a01111\u00a01111",
    "tok_8f3a9b2c",
    "sk_live_4eC39HqLyjWD",
    "2024-4111111111111111",
    "jane%2540example.com",
]
texts = st.lists(
    st.one_of(
        st.sampled_from(PIECES),
        st.text(alphabet="0123456789 .-:@()+xABCZabcez/=_", max_size=24),
        st.text(max_size=8),
    ),
    max_size=6,
).map("".join)


def _whole_pattern(sanitizer: Sanitizer, value: str) -> str:
    """What `text` gives when every pattern runs (the same steps around them: percent-encoded text
    decoded, look-alike characters folded)."""
    decoded = sanitizer._percent_decoded(value) if "%" in value else None
    return decoded if decoded is not None else sanitizer._sub(_PII, value)


@settings(max_examples=600, deadline=None)
@given(texts)
def test_prefiltered_patterns_give_what_the_whole_pattern_gives(value: str) -> None:
    sanitizer = Sanitizer(b"k" * 32)
    assert sanitizer.text(value) == _whole_pattern(sanitizer, value)
    pattern = _pii_for(value)
    if pattern is None:  # "nothing could match" must be true
        assert _PII.search(value) is None
    else:
        assert [m.span() for m in pattern.finditer(value)] == [m.span() for m in _PII.finditer(value)]


def test_each_kind_is_still_found_through_the_prefilter() -> None:
    sanitizer = Sanitizer(b"k" * 32)
    for piece in PIECES:
        value = f"note: {piece} end"
        expected = _whole_pattern(sanitizer, value)
        assert sanitizer.text(value) == expected
    assert "a@b.example.com" not in sanitizer.text("mail a@b.example.com now")
    assert not re.search(r"4111 1111 1111 1111", sanitizer.text("card 4111 1111 1111 1111"))
