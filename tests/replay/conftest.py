"""Fixtures of the replay tests: the replay shop, v1 and v2, on loopback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from replay_shop import make_app, serve


@pytest.fixture(scope="session")
def shop_v1() -> Iterator[str]:
    with serve(make_app("v1")) as url:
        yield url


@pytest.fixture(scope="session")
def shop_v2() -> Iterator[str]:
    with serve(make_app("v2")) as url:
        yield url
