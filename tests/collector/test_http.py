"""The collector's HTTP contract over real loopback, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import gzip

import asyncpg
import orjson

from .conftest import KEY, SOURCE, RunningCollector, StartCollector, batch, eventually


async def test_batch_is_stored_with_its_session(collector: RunningCollector) -> None:
    status, body, _ = await collector.post("/v1/rum", batch("s1", 3, user_id="u-42", attributes={"plan": "pro"}))
    assert status == 200, body
    assert body == {"accepted": 3, "rejected": []}
    rows = await collector.store.pool.fetch("SELECT seq, kind, data FROM events WHERE source=$1 ORDER BY seq", SOURCE)
    assert [r["seq"] for r in rows] == [0, 1, 2]
    assert rows[0]["data"]["target"]["test_id"] == "button-0"
    session = await collector.store.pool.fetchrow("SELECT * FROM sessions WHERE session_id='s1'")
    assert session["event_count"] == 3
    assert session["user_id"] == "u-42"
    assert session["attributes"] == {"plan": "pro"}


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
