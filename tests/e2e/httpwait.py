"""Waiting on HTTP from this machine (kube-proxy writes a Service's rules a moment after its endpoints)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def answers(url: str, contains: bytes = b"") -> bool:
    """The URL answers 200 with ``contains`` in its body (a refused or reset connection is "not yet")."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bool(resp.status == 200 and contains in resp.read())
    except OSError:
        return False


def json_at(url: str) -> Any:
    """The JSON document a URL answers with, or None while it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None
