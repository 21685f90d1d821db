"""Collector ingest throughput against raw asyncpg COPY of the same rows, measured in one run.

    .venv/bin/python bench/ingest.py [--events 200000] [--batch 25] [--clients 32] [--workers 1] [--dsn DSN]

Starts a real PostgreSQL (embedded, in a temporary $TRODDEN_HOME, unless --dsn), then:
1. raw COPY: the rows the collector would write, COPied straight into `events` by asyncpg, in
   chunks as large as the collector's flushes; no validation, sanitising, HTTP or deduplication;
2. collector: `trodden collect` in its own process(es), driven over loopback HTTP by concurrent
   clients posting realistic beacon batches (clicks, inputs, fetches with headers and JSON bodies,
   page views, a custom event), each answered only after its COPY transaction committed.
Prints events/s for both, the ratio (target >= 0.5) and the collector's p50/p99 request latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"


def realistic_batch(session_id: str, start_seq: int, n: int, rng: random.Random) -> dict[str, Any]:
    base = 1_700_000_000_000.0 + rng.random() * 1e6
    events: list[dict[str, Any]] = []
    for i in range(n):
        seq = start_seq + i
        url = f"https://shop.example/products/{rng.randint(1, 500)}?ref=home"
        pick = i % 5
        if pick == 0:
            ev = {
                "kind": "click",
                "target": {
                    "test_id": "add-to-cart",
                    "role": "button",
                    "name": "Add to cart",
                    "text": "Add to cart",
                    "tag": "button",
                    "css": "#product > div:nth-of-type(2) > button",
                    "xpath": '//*[@id="product"]/div[2]/button',
                },
            }
        elif pick == 1:
            ev = {
                "kind": "input",
                "target": {
                    "id": "qty",
                    "role": "spinbutton",
                    "name": "Quantity",
                    "tag": "input",
                    "css": "#qty",
                    "xpath": '//*[@id="qty"]',
                },
                "value": str(rng.randint(1, 9)),
            }
        elif pick == 2:
            ev = {
                "kind": "request",
                "initiator": "fetch",
                "method": "POST",
                "request_url": "https://shop.example/api/cart",
                "status": 201,
                "duration_ms": rng.random() * 80,
                "request_headers": {"content-type": "application/json", "accept": "application/json"},
                "response_headers": {"content-type": "application/json", "etag": '"abc123"'},
                "request_body": {"product_id": rng.randint(1, 500), "quantity": 2},
                "response_body": {
                    "cart_id": "c-81",
                    "items": [{"product_id": 3, "quantity": 2, "price": 19.99}],
                    "total": 39.98,
                },
                "trace_id": os.urandom(16).hex(),
                "span_id": os.urandom(8).hex(),
            }
        elif pick == 3:
            ev = {"kind": "page_view", "title": "Product | Shop", "referrer": "https://shop.example/"}
        else:
            ev = {
                "kind": "custom",
                "name": "add_to_cart",
                "properties": {"sku": f"SKU-{rng.randint(1, 999)}", "price": 19.99},
            }
        ev.update(seq=seq, ts=base + i * 150, url=url)
        events.append(ev)
    return {"session_id": session_id, "attributes": {"ua": "Mozilla/5.0 bench"}, "events": events}


def make_templates(count: int, per_batch: int) -> list[bytes]:
    """Batch bodies whose session id is the placeholder __SID__ (wrk fills it in per request)."""
    rng = random.Random(7)
    return [orjson.dumps(realistic_batch("__SID__", 0, per_batch, rng)) for _ in range(count)]


def bodies_like(templates: list[bytes], requests: int, prefix: str) -> list[bytes]:
    """The bodies wrk sent (same templates in the same order), under other session ids."""
    return [
        templates[(i + 1) % len(templates)].replace(b"__SID__", f"{prefix}-{i}".encode(), 1) for i in range(requests)
    ]


async def raw_copy(dsn: str, bodies: list[bytes], chunk: int) -> float:
    """The reference: decode (outside the timing) and COPY the same rows straight into `events`."""
    from trodden.collector.beacon import decode_batches
    from trodden.collector.sanitize import Sanitizer

    sanitizer = Sanitizer(b"k" * 32)
    rows: list[tuple[Any, ...]] = []
    for body in bodies:
        decoded = decode_batches([orjson.loads(body)], "raw", sanitizer)
        rows.extend(decoded.item.events)
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: b"\x01" + orjson.dumps(v),
        decoder=lambda b: orjson.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )
    started = time.perf_counter()
    for i in range(0, len(rows), chunk):
        await conn.copy_records_to_table("events", records=rows[i : i + chunk])
    elapsed = time.perf_counter() - started
    await conn.close()
    return len(rows) / elapsed


WRK_SCRIPT = """
local bodies = {%s}
local counter = 0
tid = 0
function setup(thread) tid = tid + 1; thread:set("tid", tid) end
local prefix = "w"
function init(args) counter = 0; prefix = args[1] or "w" end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
function request()
  counter = counter + 1
  local body = string.gsub(bodies[(counter %% #bodies) + 1], "__SID__", prefix .. tid .. "-" .. counter, 1)
  return wrk.format(nil, nil, nil, body)
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(url: str, templates: list[bytes], clients: int, seconds: int, prefix: str) -> dict[str, float]:
    """wrk (C, little CPU) drives the collector; each request is a new session from a template."""
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(WRK_SCRIPT % (", ".join(lua_string(t.decode()) for t in templates), KEY))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script), url, "--", prefix],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if "requests in" in line:
            result["requests"] = float(parts[0])
            result["seconds"] = float(parts[3].rstrip("s,"))
        elif line.strip().startswith("Non-2xx"):
            result["non2xx"] = float(parts[-1])
        elif parts and parts[0] in ("50%", "99%"):
            result[parts[0]] = _millis(parts[1])
    return result


def _millis(text: str) -> float:
    for unit, factor in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url + "/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("collector did not become ready")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=25, help="events per beacon batch")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dsn", default=None)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="trodden-bench-"))
    os.environ["TRODDEN_HOME"] = str(home)
    from trodden.store import Store

    store = await Store.open(args.dsn)
    dsn = store.dsn
    templates = make_templates(20, args.batch)
    source = f"bench-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = dict(os.environ, TRODDEN_LOG_LEVEL="warning")
    proc = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-c",
            "from trodden.cli import main; main()",
            "collect",
            "--source",
            source,
            "--port",
            str(port),
            "--ingest-key",
            KEY,
            "--dsn",
            dsn,
            "--workers",
            str(args.workers),
            "--max-queue-rows",
            "200000",
        ],
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    rounds: list[tuple[float, float, float, float]] = []  # collector rate, raw rate, p50, p99
    try:
        await wait_ready(f"http://127.0.0.1:{port}")
        # Warm-up: connections, partitions, caches.
        await asyncio.to_thread(run_wrk, f"http://127.0.0.1:{port}/v1/rum", templates, 4, 2, "warm")
        # Rounds alternate the two measurements so both see the same machine load.
        for r in range(args.rounds):
            result = await asyncio.to_thread(
                run_wrk, f"http://127.0.0.1:{port}/v1/rum", templates, args.clients, args.seconds, f"run{r}-"
            )
            ok_requests = result["requests"] - result.get("non2xx", 0)
            rate = ok_requests * args.batch / result["seconds"]
            raw_rate = await raw_copy(dsn, bodies_like(templates, int(ok_requests), f"raw{r}"), chunk=5000)
            rounds.append((rate, raw_rate, result["50%"], result["99%"]))
            print(
                f"round {r + 1}: collector {rate:8.0f} events/s (p50 {result['50%']:.1f} ms,"
                f" p99 {result['99%']:.1f} ms, {result.get('non2xx', 0):.0f} refused),"
                f" raw COPY {raw_rate:8.0f} events/s, ratio {rate / raw_rate:.2f}"
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    stored = await store.pool.fetchval("SELECT count(*) FROM events WHERE source = $1", source)
    table_bytes = await store.pool.fetchval(
        "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'events'::regclass"
    )
    total_rows = await store.pool.fetchval("SELECT count(*) FROM events")
    await store.close()
    median = statistics.median
    print(
        f"collector over HTTP (wrk, {args.clients} connections, {args.workers} worker(s), {args.batch} events/batch):"
        f" {median(r[0] for r in rounds):.0f} events/s, p50 {median(r[2] for r in rounds):.1f} ms,"
        f" p99 {median(r[3] for r in rounds):.1f} ms ({stored} events stored)"
    )
    print(f"raw asyncpg COPY of the same rows: {median(r[1] for r in rounds):.0f} events/s")
    print(f"ratio collector / raw COPY (median of rounds): {median(r[0] / r[1] for r in rounds):.2f}  (target >= 0.50)")
    print(f"storage: {table_bytes / max(total_rows, 1):.0f} bytes per event in `events` (rows and indexes)")


if __name__ == "__main__":
    asyncio.run(main())
