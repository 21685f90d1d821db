"""One hostile client never hurts the others: concurrent good clients keep their answers and their
data while a hostile one sends deep nesting (beacon and OTLP), a huge many-keyed body, or a row the
database codecs cannot encode; health checks keep answering meanwhile."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
import orjson

from trodden.collector.rows import WorkItem
from trodden.collector.writer import BadData, Writer
from trodden.store import Store

from .conftest import KEY, RunningCollector, StartCollector, batch


def nested(depth: int) -> Any:
    node: Any = "leaf"
    for _ in range(depth):
        node = {"a": node}
    return node


def deep_beacon(sid: str, depth: int = 300) -> bytes:
    """Built as text: deeper than orjson (or any client library) would serialise."""
    properties = '{"a":' * depth + '"leaf"' + "}" * depth
    return (
        f'{{"session_id":"{sid}","events":[{{"kind":"custom","seq":0,"ts":1700000000000,"name":"x",'
        f'"properties":{properties}}}]}}'
    ).encode()


def deep_otlp(depth: int = 60) -> dict[str, Any]:
    value: Any = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"kvlistValue": {"values": [{"key": "a", "value": value}]}}
    return {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "ab" * 16,
                                "spanId": "cd" * 8,
                                "name": "deep",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000001000000",
                                "attributes": [{"key": "deep", "value": value}],
                            }
                        ]
                    }
                ]
            }
        ]
    }


def good_otlp(n: int) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": f"{n:032x}",
                                "spanId": f"{n + 1:016x}",
                                "name": "GET /ok",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000001000000",
                                "attributes": [{"key": "session.id", "value": {"stringValue": f"otlp-{n}"}}],
                            }
                        ]
                    }
                ]
            }
        ]
    }


async def _post(http: aiohttp.ClientSession, url: str, body: Any, content_type: str = "text/plain") -> int:
    async with http.post(
        url,
        data=body if isinstance(body, bytes) else orjson.dumps(body),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": content_type},
    ) as resp:
        await resp.read()
        return resp.status


async def test_hostile_requests_among_good_ones_change_nothing_for_the_good_ones(collector: RunningCollector) -> None:
    good = 40
    async with aiohttp.ClientSession() as http:
        rum, traces = collector.url + "/v1/rum", collector.url + "/v1/traces"
        jobs = [_post(http, rum, batch(f"good-{i}", 5)) for i in range(good)]
        jobs += [_post(http, traces, good_otlp(i), "application/json") for i in range(1, 2 * good, 2)]
        hostile = [
            _post(http, rum, deep_beacon("evil-1")),
            _post(http, rum, deep_beacon("evil-2", 2000)),
            _post(http, traces, deep_otlp(), "application/json"),
        ]
        jobs = jobs[: good // 2] + hostile[:2] + jobs[good // 2 :] + hostile[2:]
        statuses = await asyncio.gather(*jobs)
    good_statuses = [s for i, s in enumerate(statuses) if i not in (good // 2, good // 2 + 1, len(statuses) - 1)]
    assert good_statuses == [200] * (2 * good)
    hostile_statuses = [statuses[good // 2], statuses[good // 2 + 1], statuses[-1]]
    assert all(400 <= s < 500 for s in hostile_statuses), hostile_statuses
    pool = collector.store.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE session_id LIKE 'good-%'") == good * 5
    assert await pool.fetchval("SELECT count(*) FROM spans WHERE session_id LIKE 'otlp-%'") == good
    assert await pool.fetchval("SELECT count(*) FROM events WHERE session_id LIKE 'evil-%'") == 0


async def test_a_row_the_codecs_cannot_encode_fails_only_its_own_item(store: Store) -> None:
    """Whatever the exception (here orjson refusing 300 levels of nesting, not a PostgresError), the
    flush is split and only the offending item is refused."""
    writer = Writer(store.dsn)
    await writer.start()
    try:
        items = []
        for i in range(6):
            data = nested(300) if i == 3 else {"ok": i}
            items.append(
                WorkItem(events=[("shop", f"w-{i}", 0, 1_700_000_000_000_000, "custom", None, None, data, None)])
            )
        futures = [writer.submit(item) for item in items]  # queued together: one flush
        results = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await writer.close()
    assert [type(r).__name__ for r in results] == ["NoneType"] * 3 + ["BadData"] + ["NoneType"] * 2
    assert isinstance(results[3], BadData)
    stored = await store.pool.fetch("SELECT session_id FROM events ORDER BY session_id")
    assert [r["session_id"] for r in stored] == ["w-0", "w-1", "w-2", "w-4", "w-5"]


async def test_health_answers_while_a_huge_body_is_sanitised(start_collector: StartCollector) -> None:
    """A 5 MB beacon with hundreds of thousands of keys is decoded off the event loop: /healthz and
    good clients are answered meanwhile (within 100 ms, the issue's bound), and the big one too."""
    collector = await start_collector()
    props = {f"k{i}": f"v{i} x" for i in range(200_000)}
    big = {
        "session_id": "big",
        "events": [{"kind": "custom", "seq": 0, "ts": 1.7e12, "name": "x", "properties": props}],
    }
    body = orjson.dumps(big)
    assert len(body) > 4_000_000
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def send_big() -> int:
            async with http.post(
                collector.url + "/v1/rum", data=body, headers={"Authorization": f"Bearer {KEY}"}
            ) as resp:
                await resp.read()
                return resp.status

        task = asyncio.create_task(send_big())
        await asyncio.sleep(0.3)  # the body is uploaded and being worked on
        good = []
        while not task.done() and len(latencies) < 200:
            started = time.perf_counter()
            async with http.get(collector.url + "/healthz") as resp:
                assert resp.status == 200
            latencies.append(time.perf_counter() - started)
            good.append(await _post(http, collector.url + "/v1/rum", batch(f"small-{len(good)}", 2)))
        status = await task
    assert status == 200
    assert len(latencies) >= 3, "the huge body was done before it could be measured"
    assert good == [200] * len(good)
    assert statistics.median(latencies) < 0.1, latencies


async def test_strings_built_to_make_patterns_backtrack_cost_linear_time(start_collector: StartCollector) -> None:
    """Bodies under 64 KiB are sanitised on the event loop: a string that made a pattern quadratic
    ("a.a.a.… token: x" was 33 s for 20 KB, "é" + 20 000 letters 37 s) stalled every client. Each
    of these, in one 60 KB beacon, is answered while /healthz keeps answering."""
    collector = await start_collector()
    hostile = {
        "names": "a." * 7000 + " token: x",
        "unicode": "é" + "a" * 14000,
        "emails": "a." * 5000 + "@x",
        "jwts": "eyJ" * 3000,
        "paths": "-/" * 5000 + " ?x",
    }
    body = orjson.dumps(
        {"session_id": "h", "events": [{"kind": "custom", "seq": 0, "ts": 1.7e12, "name": "x", "properties": hostile}]}
    )
    assert 50_000 < len(body) < 64 * 1024  # sanitised on the event loop, not in the worker thread
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        task = asyncio.create_task(_post(http, collector.url + "/v1/rum", body))
        while not task.done() and len(latencies) < 50:
            started = time.perf_counter()
            async with http.get(collector.url + "/healthz") as resp:
                assert resp.status == 200
            latencies.append(time.perf_counter() - started)
        assert await task == 200
    assert max(latencies) < 5, latencies  # before: the loop was held for minutes
