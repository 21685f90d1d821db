"""Keys: the ingest key clients send, and the HMAC key pseudonyms are made with."""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets

from trodden.store import Store


def parse_key_material(raw: str) -> bytes:
    """Hex or base64 (as a Kubernetes Secret holds it); at least 16 bytes."""
    text = raw.strip()
    key: bytes
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        key = bytes.fromhex(text)
    else:
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("TRODDEN_PSEUDONYM_KEY is neither hex nor base64") from exc
    if len(key) < 16:
        raise ValueError("TRODDEN_PSEUDONYM_KEY must hold at least 16 bytes")
    return key


async def pseudonym_key(store: Store, source: str) -> bytes:
    """`TRODDEN_PSEUDONYM_KEY` when set (a Secret shared by replicas), else the source's stored key."""
    raw = os.environ.get("TRODDEN_PSEUDONYM_KEY")
    if raw:
        return parse_key_material(raw)
    return await store.source_key(source)


def generate_ingest_key() -> str:
    return secrets.token_urlsafe(24)
