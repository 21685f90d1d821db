"""The collector's HTTP contract over real loopback, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from trodden.collector.app import WRITER_KEY
from trodden.collector.sanitize import Sanitizer
from trodden.store import Store

from .conftest import KEY, PSEUDONYM_KEY, SOURCE, RunningCollector, StartCollector, batch, eventually, run_trodden


async def test_batch_is_stored_with_its_session(collector: RunningCollector) -> None:
    status, body, _ = await collector.post("/v1/rum", batch("s1", 3, user_id="u-42", attributes={"plan": "pro"}))
    assert status == 200, body
    assert body == {"accepted": 3, "rejected": []}
    rows = await collector.store.pool.fetch("SELECT seq, kind, data FROM events WHERE source=$1 ORDER BY seq", SOURCE)
    assert [r["seq"] for r in rows] == [0, 1, 2]
    assert rows[0]["data"]["target"]["test_id"] == "button-0"
    session = await collector.store.pool.fetchrow("SELECT * FROM sessions WHERE session_id='s1'")
    assert session["event_count"] == 3
    # a user id identifies a person: stored as its pseudonym, same shape, the same for every batch
    assert session["user_id"] != "u-42" and re.fullmatch(r"[a-z]-\d\d", session["user_id"])
    assert session["attributes"] == {"plan": "pro"}


async def test_session_user_is_the_latest_identified_and_attributes_merge(collector: RunningCollector) -> None:
    """rum.js sends the user identified so far with every batch: an anonymous start, a login, an
    anonymous batch after it (the user stays), a second login (the latest wins). Attributes of later
    batches are merged into the session's, and a retried batch changes none of it."""
    u1, u2 = (Sanitizer(PSEUDONYM_KEY).user_id(u) for u in ("u-1", "u-2"))  # stored as pseudonyms
    docs = [
        batch("s1", 2, start_seq=0, ts=1_700_000_000_000.0),
        batch("s1", 2, start_seq=2, ts=1_700_000_001_000.0, user_id="u-1", attributes={"plan": "free"}),
        batch("s1", 2, start_seq=4, ts=1_700_000_002_000.0, attributes={"locale": "de"}),
    ]
    for doc in docs:
        status, body, _ = await collector.post("/v1/rum", doc)
        assert status == 200, body
    session = await collector.store.pool.fetchrow("SELECT * FROM sessions WHERE session_id='s1'")
    assert (session["user_id"], session["event_count"]) == (u1, 6)
    assert session["attributes"] == {"plan": "free", "locale": "de"}
    events = await collector.store.pool.fetch("SELECT seq, user_id FROM events WHERE session_id='s1' ORDER BY seq")
    assert [r["user_id"] for r in events] == [None, None, u1, u1, None, None]

    later = batch("s1", 2, start_seq=6, ts=1_700_000_003_000.0, user_id="u-2", attributes={"plan": "pro"})
    for _ in range(2):  # the second is a client's retry
        status, body, _ = await collector.post("/v1/rum", later)
        assert status == 200, body
    session = await collector.store.pool.fetchrow("SELECT * FROM sessions WHERE session_id='s1'")
    assert (session["user_id"], session["event_count"]) == (u2, 8)
    assert session["attributes"] == {"plan": "pro", "locale": "de"}


async def test_retry_of_a_batch_adds_nothing(collector: RunningCollector) -> None:
    doc = batch("s1", 5)
    for _ in range(3):
        status, body, _ = await collector.post("/v1/rum", doc)
        assert status == 200 and body["accepted"] == 5
    # A retry overlapping a new batch: only the new events count.
    status, _, _ = await collector.post("/v1/rum", batch("s1", 8))
    assert status == 200
    assert await collector.store.pool.fetchval("SELECT count(*) FROM events") == 8
    assert await collector.store.pool.fetchval("SELECT event_count FROM sessions WHERE session_id='s1'") == 8


async def test_session_counters_across_sessions_batches_and_flushes(collector: RunningCollector) -> None:
    """The decoder counts each batch's sessions and the writer merges the counts of one flush: a
    batch holding two sessions, and one session spread over concurrent requests, count exactly."""
    mixed = batch("a", 4, ts=1_700_000_000_000.0)
    for event in mixed["events"][2:]:
        event["session_id"] = "b"
    parts = [batch("c", 3, start_seq=3 * i, ts=1_700_000_100_000.0 + 10 * i) for i in range(6)]
    results = await asyncio.gather(*(collector.post("/v1/rum", doc) for doc in [mixed, *parts]))
    assert [status for status, _, _ in results] == [200] * 7
    rows = await collector.store.pool.fetch(
        "SELECT session_id, event_count, first_ts, last_ts FROM sessions ORDER BY session_id"
    )
    counts = {r["session_id"]: r["event_count"] for r in rows}
    assert counts == {"a": 2, "b": 2, "c": 18}
    c = rows[2]
    assert (c["first_ts"].timestamp(), c["last_ts"].timestamp()) == (1_700_000_100.0, 1_700_000_100.052)


async def test_concurrent_duplicates_are_written_once(collector: RunningCollector) -> None:
    doc = batch("dup", 20)
    results = await asyncio.gather(*(collector.post("/v1/rum", doc) for _ in range(10)))
    assert all(status == 200 for status, _, _ in results)
    assert await collector.store.pool.fetchval("SELECT count(*) FROM events") == 20
    assert await collector.store.pool.fetchval("SELECT event_count FROM sessions") == 20


async def test_partial_batch_keeps_the_valid_events(collector: RunningCollector) -> None:
    doc = batch("s1", 4)
    doc["events"][1]["seq"] = -5
    doc["events"][2] = {"kind": "teleport", "seq": 2, "ts": 1}
    status, body, _ = await collector.post("/v1/rum", doc)
    assert status == 207
    assert body["accepted"] == 2
    refused = {r["index"]: r for r in body["rejected"]}
    assert set(refused) == {1, 2}
    assert refused[1]["seq"] == -5 and "seq" in refused[1]["reason"]
    assert "teleport" in refused[2]["reason"] or "kind" in refused[2]["reason"]
    seqs = [r["seq"] for r in await collector.store.pool.fetch("SELECT seq FROM events ORDER BY seq")]
    assert seqs == [0, 3]


async def test_array_of_batches_and_text_plain_beacons(collector: RunningCollector) -> None:
    # sendBeacon posts text/plain with the key in the query string.
    async with collector.http.post(
        f"{collector.url}/v1/rum?key={KEY}",
        data=orjson.dumps([batch("a", 2), batch("b", 3)]),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["accepted"] == 5
    assert await collector.store.pool.fetchval("SELECT count(*) FROM sessions") == 2


async def test_unusable_bodies_get_400_with_a_reason(collector: RunningCollector) -> None:
    for body in (b"{not json", b"42", b"[]", orjson.dumps({"events": []}), orjson.dumps({"session_id": "x"})):
        status, payload, _ = await collector.post("/v1/rum", body)
        assert status == 400, (body, payload)
        assert payload["error"]
    doc = batch("s1", 2)
    for e in doc["events"]:
        e["ts"] = "yesterday"
    status, payload, _ = await collector.post("/v1/rum", doc)
    assert status == 400 and len(payload["rejected"]) == 2


async def test_ingest_key_is_required(collector: RunningCollector) -> None:
    for headers, query in (({}, ""), ({"Authorization": "Bearer wrong"}, ""), ({}, "?key=wrong")):
        async with collector.http.post(f"{collector.url}/v1/rum{query}", data=b"{}", headers=headers) as resp:
            assert resp.status == 401
            assert "ingest key" in (await resp.json())["error"]
    async with collector.http.post(f"{collector.url}/v1/traces", data=b"") as resp:
        assert resp.status == 401
    async with collector.http.get(f"{collector.url}/v1/config") as resp:
        assert resp.status == 401
    async with collector.http.get(f"{collector.url}/v1/config?key={KEY}") as resp:
        assert resp.status == 200


async def test_body_size_limit(start_collector: StartCollector) -> None:
    collector = await start_collector(max_body_bytes=50_000)
    status, payload, _ = await collector.post("/v1/rum", batch("big", 2000))
    assert status == 413 and "larger" in payload["error"]
    # A gzip bomb is measured after inflation.
    bomb = gzip.compress(b'{"session_id":"x","events":[' + b" " * 1_000_000 + b"]}")
    status, _, _ = await collector.post("/v1/rum", bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413


async def test_gzip_bodies(collector: RunningCollector) -> None:
    status, body, _ = await collector.post(
        "/v1/rum", gzip.compress(orjson.dumps(batch("gz", 4))), headers={"Content-Encoding": "gzip"}
    )
    assert status == 200 and body["accepted"] == 4
    status, body, _ = await collector.post("/v1/rum", gzip.compress(orjson.dumps(batch("gz2", 2))))
    assert status == 200 and body["accepted"] == 2
    status, body, _ = await collector.post("/v1/rum", gzip.compress(b"{}")[:-6])
    assert status == 400


async def test_cors_for_the_tag(collector: RunningCollector) -> None:
    origin = "http://shop.localhost:8080"
    async with collector.http.options(
        f"{collector.url}/v1/rum",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    ) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == origin
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    status, _, resp = await collector.post("/v1/rum", batch("c", 1), headers={"Origin": origin})
    assert status == 200 and resp.headers["Access-Control-Allow-Origin"] == origin


async def test_cors_can_be_restricted(start_collector: StartCollector) -> None:
    collector = await start_collector(allowed_origins=["http://good.test"])
    _, _, resp = await collector.post("/v1/rum", batch("c", 1), headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    _, _, resp = await collector.post("/v1/rum", batch("c", 1), headers={"Origin": "http://good.test"})
    assert resp.headers["Access-Control-Allow-Origin"] == "http://good.test"


async def test_queue_full_answers_429_and_nothing_is_lost(start_collector: StartCollector, dsn: str) -> None:
    collector = await start_collector(max_queue_rows=100)
    blocker = await asyncpg.connect(dsn)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        first = asyncio.create_task(collector.post("/v1/rum", batch("q1", 80)))
        await eventually(lambda: collector.writer.depth > 0)
        status, payload, resp = await collector.post("/v1/rum", batch("q2", 80))
        assert status == 429
        assert resp.headers["Retry-After"]
        assert "queue" in payload["error"]
        metrics = await (await collector.http.get(f"{collector.url}/metrics")).text()
        depth = [line for line in metrics.splitlines() if line.startswith("trodden_collector_queue_depth ")]
        assert depth and float(depth[0].split()[1]) >= 80
        assert not first.done()  # not acknowledged before it is committed
        await tx.rollback()
        status, body, _ = await first
        assert status == 200 and body["accepted"] == 80
    finally:
        await blocker.close()
    assert await collector.store.pool.fetchval("SELECT count(*) FROM events") == 80


async def test_health_readiness_metrics_and_script(collector: RunningCollector) -> None:
    async with collector.http.get(f"{collector.url}/healthz") as resp:
        assert resp.status == 200
    async with collector.http.get(f"{collector.url}/readyz") as resp:
        assert resp.status == 200
    await collector.post("/v1/rum", batch("m", 2))
    async with collector.http.get(f"{collector.url}/metrics") as resp:
        text = await resp.text()
        assert "trodden_collector_queue_depth" in text
        assert 'trodden_collector_requests_total{endpoint="rum",status="200"}' in text
    async with collector.http.get(f"{collector.url}/rum.js") as resp:
        assert resp.status == 200
        assert "javascript" in resp.headers["Content-Type"]
        assert "window.trodden" in await resp.text()


async def test_config_document_follows_its_file(start_collector: StartCollector, tmp_path: Path) -> None:
    instrumentation = tmp_path / "config.json"
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules": [{"kind": "selector", "match": ".card-form input"}]}')
    collector = await start_collector(instrumentation_file=instrumentation, sanitization_file=rules)

    async def config() -> dict[str, Any]:
        async with collector.http.get(f"{collector.url}/v1/config?key={KEY}") as resp:
            assert resp.status == 200
            return dict(await resp.json())

    doc = await config()  # no file yet: the defaults
    assert doc["sampling"]["rate"] == 1.0 and doc["generation"] == 0
    assert ".card-form input" in doc["capture"]["mask_selectors"]
    instrumentation.write_text(orjson.dumps({"generation": 3, "sampling": {"rate": 0.25}}).decode())
    doc = await config()
    assert (doc["generation"], doc["sampling"]["rate"]) == (3, 0.25)
    instrumentation.write_text("{broken")  # keeps the last good document
    os.utime(instrumentation, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert (await config())["generation"] == 3
    instrumentation.write_text(orjson.dumps({"generation": 4, "flush_interval_ms": 1000}).decode())
    os.utime(instrumentation, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
    doc = await config()
    assert (doc["generation"], doc["flush_interval_ms"]) == (4, 1000)


async def test_graceful_shutdown_flushes_what_was_accepted(store: Store, dsn: str) -> None:
    from aiohttp import web

    from trodden.collector.app import build_app

    app = build_app(store, source=SOURCE, ingest_key=KEY, pseudonym_key=b"k" * 32)
    runner = web.AppRunner(app, shutdown_timeout=30)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/rum"
    blocker = await asyncpg.connect(dsn)
    tx = blocker.transaction()
    await tx.start()
    await blocker.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
    async with aiohttp.ClientSession() as http:

        async def post() -> int:
            async with http.post(
                url, data=orjson.dumps(batch("bye", 6)), headers={"Authorization": f"Bearer {KEY}"}
            ) as r:
                return r.status

        pending = asyncio.create_task(post())
        await eventually(lambda: app[WRITER_KEY].depth > 0)
        stopping = asyncio.create_task(runner.cleanup())  # SIGTERM does this
        await asyncio.sleep(0.3)
        assert not pending.done()
        await tx.rollback()
        assert await pending == 200
        await stopping
    await blocker.close()
    assert await store.pool.fetchval("SELECT count(*) FROM events WHERE session_id = 'bye'") == 6


async def test_collect_command_prints_where_it_listens_and_stops_on_sigterm(dsn: str) -> None:
    env = dict(os.environ, TRODDEN_PSEUDONYM_KEY="00" * 32)
    env.pop("TRODDEN_INGEST_KEY", None)
    proc = await run_trodden(
        "collect",
        "--source",
        "cli",
        "--port",
        "0",
        "--dsn",
        dsn,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
    second = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
    assert first.startswith("collector listening on http://127.0.0.1:")
    assert second.startswith("ingest key: ")
    url, key = first.rsplit(" ", 1)[1], second.split(": ", 1)[1]
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1/rum?key={key}",
            data=orjson.dumps(
                {
                    "session_id": "k",
                    "events": [{"kind": "input", "seq": 0, "ts": 1, "value": "a@b.example.com", "target": {"id": "q"}}],
                }
            ),
        ) as resp,
    ):
        assert resp.status == 200
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval("SELECT data->>'value' FROM events WHERE session_id = 'k'")
    finally:
        await conn.close()
    # The pseudonym comes from TRODDEN_PSEUDONYM_KEY, not from the source's stored key.
    assert value == Sanitizer(bytes(32)).text("a@b.example.com")


async def test_bad_start_options_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "rules.json"
    bad.write_text('{"rules": [{"kind": "nope"}]}')
    for args, env_extra in ((["--sanitization-file", str(bad)], {}), ([], {"TRODDEN_PSEUDONYM_KEY": "short"})):
        proc = await run_trodden(
            "collect",
            "--source",
            "x",
            "--port",
            "0",
            *args,
            env=dict(os.environ, **env_extra),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 2, err
        assert err.decode().strip().splitlines()[-1].startswith("error: ")
