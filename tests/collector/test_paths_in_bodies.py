"""An API path inside a request body (a batch request's `"path"`) is an address, not a secret: the
sanitiser keeps it, so a replayed batch still reaches the records it was about. Tokens that contain
slashes (base64 of random bytes) are still pseudonymised."""

from __future__ import annotations

from trodden.collector.sanitize import Sanitizer

from .conftest import PSEUDONYM_KEY

BATCH = {
    "defaults": {"method": "POST"},
    "requests": [
        {"method": "POST", "path": "/v1/buckets/default/collections/tasks/records", "body": {"data": {"title": "x"}}},
        {"method": "GET", "path": "/api/v2/orders/123/items/7/history"},
    ],
}


def test_a_lowercase_api_path_in_a_body_is_kept() -> None:
    clean = Sanitizer(PSEUDONYM_KEY).json(BATCH, ())
    assert clean == BATCH


def test_tokens_with_slashes_are_still_pseudonymised() -> None:
    sanitizer = Sanitizer(PSEUDONYM_KEY)
    for secret in ("aB3/xY9zQ1w2E3r4T5y6U7pL", "k9f2m3x8q1w7e4r6t5y8/u2i3o9p0a1s2d4f6"):
        clean = sanitizer.json({"value": secret}, ())["value"]
        assert clean != secret and len(clean) == len(secret), (secret, clean)
