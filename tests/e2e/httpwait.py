"""Waiting on HTTP from this machine (kube-proxy writes a Service's rules a moment after its endpoints)."""

from __future__ import annotations

import urllib.request


def answers(url: str, contains: bytes = b"") -> bool:
    """The URL answers 200 with ``contains`` in its body (a refused or reset connection is "not yet")."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bool(resp.status == 200 and contains in resp.read())
    except OSError:
        return False
