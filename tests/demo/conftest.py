"""Fixtures for the demo's tests: the real shop served over loopback HTTP, in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from demo_helpers import ShopClient, serve

from trodden.shop import create_app
from trodden.shop.regressions import ShopVersion


@pytest.fixture(scope="session")
async def shop_urls() -> AsyncIterator[dict[str, str]]:
    """Shop v1 and v2 (all planted regressions), each on its own loopback port."""
    runners = []
    urls: dict[str, str] = {}
    for name, version in (("v1", ShopVersion.of(1)), ("v2", ShopVersion.of(2))):
        runner, url = await serve(create_app(version))
        runners.append(runner)
        urls[name] = url
    yield urls
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(http: aiohttp.ClientSession, shop_urls: dict[str, str]) -> Callable[[str], Awaitable[ShopClient]]:
    async def make(version: str = "v1", region: str | None = None) -> ShopClient:
        return await ShopClient(http, shop_urls[version]).start(region)

    return make
