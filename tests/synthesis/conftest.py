"""Fixtures of the synthesis tests: the synthetic shop corpus, in memory and in a real store."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from trodden.models.events import Session
from trodden.store import Store
from trodden.synthesis.corpus import shop_sessions, write_sessions


@pytest.fixture(scope="session")
def shop_corpus() -> list[Session]:
    """1,500 sessions of the synthetic shop (planted invariants and non-invariants)."""
    return list(shop_sessions(1500, seed=7))


@pytest.fixture
async def shop_store(store: Store, shop_corpus: list[Session]) -> AsyncIterator[Store]:
    """A fresh store holding 400 of the shop's sessions under source "shop"."""
    await write_sessions(store, "shop", shop_corpus[:400])
    yield store
