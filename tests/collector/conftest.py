"""Fixtures: a collector served over real loopback HTTP on the per-test database."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from trodden.collector.app import WRITER_KEY, build_app
from trodden.collector.writer import Writer
from trodden.store import Store

KEY = "test-ingest-key"
TRODDEN = (sys.executable, "-c", "from trodden.cli import main; main()")


async def run_trodden(*args: str, **kwargs: Any) -> asyncio.subprocess.Process:
    """The real `trodden` command in a subprocess (the installed entry point, this interpreter)."""
    return await asyncio.create_subprocess_exec(*TRODDEN, *args, **kwargs)


PSEUDONYM_KEY = b"p" * 32
SOURCE = "shop"


@dataclass
class RunningCollector:
    url: str
    key: str
    store: Store
    app: web.Application
    http: aiohttp.ClientSession

    @property
    def writer(self) -> Writer:
        return self.app[WRITER_KEY]

    async def post(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
        import orjson

        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        async with self.http.post(self.url + path, data=data, headers=headers, **kwargs) as resp:
            raw = await resp.read()
            try:
                payload = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                payload = raw
            return resp.status, payload, resp


async def eventually(predicate: Callable[[], bool], seconds: float = 60.0) -> None:
    """Poll until `predicate()` holds (fails the test after `seconds`)."""
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


StartCollector = Callable[..., Awaitable[RunningCollector]]


@pytest.fixture
async def start_collector(store: Store) -> AsyncIterator[StartCollector]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(**options: Any) -> RunningCollector:
        options.setdefault("source", SOURCE)
        options.setdefault("ingest_key", KEY)
        options.setdefault("pseudonym_key", PSEUDONYM_KEY)
        app = build_app(store, **options)
        runner = web.AppRunner(app, shutdown_timeout=5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        http = aiohttp.ClientSession()
        sessions.append(http)
        return RunningCollector(f"http://127.0.0.1:{port}", options["ingest_key"], store, app, http)

    yield start
    for http in sessions:
        await http.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def collector(start_collector: StartCollector) -> RunningCollector:
    return await start_collector()


@pytest.fixture
async def collector_keeping_texts(start_collector: StartCollector, tmp_path: Path) -> RunningCollector:
    """A collector whose source keeps display and typed texts from their first user (k = 1): for
    tests of what rum.js captures, with one browser session (k-masking: test_display_text.py)."""
    rules = tmp_path / "keep-texts.json"
    rules.write_text('{"free_text_min_users": 1}')
    return await start_collector(sanitization_file=rules)


def batch(
    session_id: str = "s1", n: int = 3, start_seq: int = 0, ts: float = 1_700_000_000_000.0, **extra: Any
) -> dict[str, Any]:
    """A beacon batch of `n` clicks."""
    return {
        "session_id": session_id,
        **extra,
        "events": [
            {
                "kind": "click",
                "seq": start_seq + i,
                "ts": ts + i,
                "url": "http://127.0.0.1:9/shop",
                "target": {"test_id": f"button-{i}", "tag": "button", "css": "#main > button", "text": "Add"},
            }
            for i in range(n)
        ],
    }
