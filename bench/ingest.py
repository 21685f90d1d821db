"""Collector ingest throughput against raw asyncpg COPY of the same rows, measured in one run.

    .venv/bin/python bench/ingest.py [--seconds 8] [--rounds 3] [--batch 25] [--clients 32] [--workers N]
                                     [--dsn DSN]

Starts a real PostgreSQL (embedded, in a temporary $TRODDEN_HOME, unless --dsn), then:
1. raw COPY: the rows the collector would write, COPied straight into `events` by asyncpg (the
   writer's codecs, chunks of 5 000, no trigger); no validation, sanitising, HTTP, session upkeep
   or deduplication;
2. collector: `trodden collect` in its own process(es), driven over loopback HTTP by wrk posting
   beacon batches as rum.js sends them (clicks, inputs, fetches with headers and JSON bodies, page
   views, a custom event; a user id on a quarter of them), each answered only after its rows
   were committed.
Prints events/s for both, the ratio (target >= 0.5) and the collector's p50/p99 request latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
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
    # What rum.js sends: the session, the user identified so far (a quarter of the sessions are
    # logged in), the events; it sends no session attributes (HAR import and custom clients do).
    user_id = f"user-{rng.randint(1, 100_000)}" if rng.random() < 0.25 else None
    return {"session_id": session_id, "user_id": user_id, "events": events}


def make_templates(count: int, per_batch: int) -> list[bytes]:
    """Batch bodies whose session id is the placeholder __SID__ (wrk fills it in per request)."""
    rng = random.Random(7)
    return [orjson.dumps(realistic_batch("__SID__", 0, per_batch, rng)) for _ in range(count)]


def bodies_like(templates: list[bytes], requests: int, prefix: str) -> list[bytes]:
    """The bodies wrk sent (same templates in the same order), under other session ids."""
    return [
        templates[(i + 1) % len(templates)].replace(b"__SID__", f"{prefix}-{i}".encode(), 1) for i in range(requests)
    ]


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU of processes, from /proc (0 for processes that are gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def backend_pids(dsn: str) -> set[int]:
    """PostgreSQL's client backends (the connections' server processes). Background workers
    (autovacuum, checkpointer, WAL writer) are left out: they work for whichever phase wrote
    before them, so they would blur the comparison."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return {int(r["pid"]) for r in rows}


async def raw_copy(dsn: str, bodies: list[bytes], chunk: int) -> tuple[float, float, float]:
    """The reference: decode `bodies` (outside the timing) and COPY the same rows straight into
    `events`; events/s, and client and PostgreSQL CPU seconds per event."""
    from trodden.collector.beacon import decode_batches
    from trodden.collector.sanitize import Sanitizer
    from trodden.collector.writer import configure_connection

    sanitizer = Sanitizer(b"k" * 32)
    rows: list[tuple[Any, ...]] = []
    for body in bodies:
        decoded = decode_batches([orjson.loads(body)], "raw", sanitizer)
        rows.extend(decoded.item.events)
    conn = await asyncpg.connect(dsn)
    await configure_connection(conn)  # the same codecs as the collector's writer
    # Raw means raw: no trigger either (the one on `events` keeps session counters for the collector).
    await conn.execute("SET session_replication_role = replica")
    backend = {int(await conn.fetchval("SELECT pg_backend_pid()"))}
    pg_before, client_before = cpu_seconds(backend), time.process_time()
    started = time.perf_counter()
    for i in range(0, len(rows), chunk):
        await conn.copy_records_to_table("events", records=rows[i : i + chunk])
    elapsed = time.perf_counter() - started
    client_cpu, pg_cpu = time.process_time() - client_before, cpu_seconds(backend) - pg_before
    await conn.close()
    return len(rows) / elapsed, client_cpu / len(rows), pg_cpu / len(rows)


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
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
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


def children_of(pid: int) -> set[int]:
    """Worker processes of `trodden collect --workers N`."""
    return {int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat") if _ppid(p) == pid}


def _ppid(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


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
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="collector processes (trodden collect --workers); default 1, as `trodden collect` and the"
        " operator's collector pods run (they scale by replicas)",
    )
    parser.add_argument("--dsn", default=None)
    args = parser.parse_args()

    load_before = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="trodden-bench-"))
    os.chmod(home, 0o755)  # as root the server's own user must reach it (trodden.store.embedded)
    os.environ["TRODDEN_HOME"] = str(home)
    from trodden.store import Store
    from trodden.store.embedded import stop_embedded

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
    cpu: list[tuple[float, float, float, float]] = []  # CPU s per event: collector, its PG, COPY client, its PG
    # The bench's own pool connections are not the collector's.
    bench_backends = {int(r["pid"]) for r in await store.pool.fetch("SELECT pid FROM pg_stat_activity")}
    try:
        await wait_ready(f"http://127.0.0.1:{port}")
        collector_pids = {proc.pid} | children_of(proc.pid)
        # Warm-up: connections, partitions, caches.
        await asyncio.to_thread(run_wrk, f"http://127.0.0.1:{port}/v1/rum", templates, 4, 2, "warm")
        # Rounds alternate the two measurements so both see the same machine load.
        for r in range(args.rounds):
            writers = await backend_pids(dsn) - bench_backends
            cpu_before = cpu_seconds(collector_pids), cpu_seconds(writers)
            result = await asyncio.to_thread(
                run_wrk, f"http://127.0.0.1:{port}/v1/rum", templates, args.clients, args.seconds, f"run{r}-"
            )
            ok_requests = result["requests"] - result.get("non2xx", 0)
            rate = ok_requests * args.batch / result["seconds"]
            events = ok_requests * args.batch
            server_cpu = (cpu_seconds(collector_pids) - cpu_before[0]) / events
            server_pg_cpu = (cpu_seconds(writers) - cpu_before[1]) / events
            raw_rate, raw_client_cpu, raw_pg_cpu = await raw_copy(
                dsn, bodies_like(templates, int(ok_requests), f"raw{r}"), chunk=5000
            )
            rounds.append((rate, raw_rate, result["50%"], result["99%"]))
            cpu.append((server_cpu, server_pg_cpu, raw_client_cpu, raw_pg_cpu))
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
    if args.dsn is None:  # the embedded database of this run: ~1.6 GB after a default run
        stop_embedded(home)
        shutil.rmtree(home, ignore_errors=True)
    median = statistics.median
    print(
        f"collector over HTTP (wrk, {args.clients} connections, {args.workers} worker(s), {args.batch} events/batch):"
        f" {median(r[0] for r in rounds):.0f} events/s, p50 {median(r[2] for r in rounds):.1f} ms,"
        f" p99 {median(r[3] for r in rounds):.1f} ms ({stored} events stored)"
    )
    print(f"raw asyncpg COPY of the same rows: {median(r[1] for r in rounds):.0f} events/s")
    print(f"ratio collector / raw COPY (median of rounds): {median(r[0] / r[1] for r in rounds):.2f}  (target >= 0.50)")
    if cpu:
        c = [median(x[i] for x in cpu) * 1e6 for i in range(4)]
        print(
            f"CPU per event (less load-dependent than the rates): collector {c[0]:.1f} µs + PostgreSQL {c[1]:.1f} µs;"
            f" raw COPY client {c[2]:.1f} µs + PostgreSQL {c[3]:.1f} µs;"
            f" raw/collector CPU ratio {(c[2] + c[3]) / (c[0] + c[1]):.2f}"
        )
    print(f"storage: {table_bytes / max(total_rows, 1):.0f} bytes per event in `events` (rows and indexes)")
    load_after = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
        " (1 min; other work on the machine inflates the CPU figures too, less than the rates)"
    )


if __name__ == "__main__":
    asyncio.run(main())
