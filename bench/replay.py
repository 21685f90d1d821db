"""Replay throughput against a simple endpoint, with wrk on the same endpoint in the same run as
the ceiling, and browser sessions per minute with one Chromium.

    .venv/bin/python bench/replay.py [--seconds 8] [--rounds 3] [--workers 2] [--browser-sessions 12]

The server is a small aiohttp app in its own process (so the client under test does not share an
interpreter with it). Prints requests/s of wrk and of `replay_suite`, and their ratio (target ≥ 0.3).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

from trodden.models.suite import (
    BrowserExpectation,
    BrowserStep,
    Expectation,
    HttpRequest,
    HttpStep,
    Locator,
    Suite,
    TestCase,
)
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite

SERVER = r'''
import sys
from aiohttp import web

PAGE = """<!doctype html><html><body><h1>Bench</h1><button data-testid="go">Go</button><p id="out"></p>
<script>document.querySelector("button").onclick = async () => {
  const r = await fetch("/api/item"); document.getElementById("out").textContent = (await r.json()).name; };
</script></body></html>"""

async def hello(_r): return web.json_response({"ok": True})
async def item(_r): return web.json_response({"id": 1, "name": "thing"})
async def page(_r): return web.Response(text=PAGE, content_type="text/html")

app = web.Application()
app.router.add_get("/hello", hello)
app.router.add_get("/api/item", item)
app.router.add_get("/", page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench server did not start")


def wrk_rps(url: str, seconds: int, connections: int) -> float:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (Debian package wrk; `make system-deps`)")
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(match.group(1))


def http_suite(tests: int, steps: int) -> Suite:
    step = HttpStep(
        id="s",
        endpoint="GET /hello",
        request=HttpRequest(method="GET", url="{{origin}}/hello"),
        expect=Expectation(status=200, shape={"/ok": "boolean"}),
    )
    cases = [
        TestCase(
            id=f"t{i}",
            name=f"t{i}",
            type="http",
            session_id=f"s{i}",
            steps=[step.model_copy(update={"id": f"s{j}"}) for j in range(steps)],
        )
        for i in range(tests)
    ]
    return Suite(
        name="bench",
        revision=1,
        source="bench",
        origin="https://recorded.example",
        created_at="2026-01-01T00:00:00Z",
        tests=cases,
    )


def browser_suite(sessions: int) -> Suite:
    steps = [
        BrowserStep(id="b1", action="goto", url="{{origin}}/", expect=BrowserExpectation(visible_text=["Bench"])),
        BrowserStep(
            id="b2",
            action="click",
            locators=[Locator(strategy="test_id", value="go")],
            network=["GET /api/item"],
            expect=BrowserExpectation(visible_text=["thing"]),
        ),
    ]
    cases = [
        TestCase(id=f"b{i}", name=f"b{i}", type="browser", session_id=f"s{i}", steps=steps) for i in range(sessions)
    ]
    return Suite(
        name="bench-browser",
        revision=1,
        source="bench",
        origin="https://recorded.example",
        created_at="2026-01-01T00:00:00Z",
        tests=cases,
    )


async def replay_rps(url: str, seconds: float, concurrency: int, workers: int, rps_guess: float) -> tuple[float, int]:
    """One replay of a suite of 20-step tests sized to last about `seconds`; requests per second,
    process start-up of the workers included."""
    tests = max(workers * 40, int(rps_guess * seconds / 20))
    suite = http_suite(tests=tests, steps=20)
    started = time.perf_counter()
    report = await replay_suite(None, suite, url, ReplayOptions(concurrency=concurrency, retries=0, workers=workers))
    elapsed = time.perf_counter() - started
    assert not report.has_regressions, [r.failures for r in report.results if r.failures][:1]
    done = tests * 20
    return done / elapsed, done


async def browser_per_minute(url: str, sessions: int) -> float:
    await replay_suite(None, browser_suite(1), url, ReplayOptions(retries=0))  # warm up Chromium's caches
    started = time.perf_counter()
    report = await replay_suite(None, browser_suite(sessions), url, ReplayOptions(retries=0, concurrency=2))
    elapsed = time.perf_counter() - started
    assert report.counts.passed == sessions, [r.failures for r in report.results if r.failures][:1]
    return sessions / elapsed * 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="replay worker processes (--workers of trodden replay; this machine has 2 cores)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--browser-sessions", type=int, default=12)
    args = parser.parse_args()
    import logging

    from trodden.log import configure_logging

    configure_logging(level="warning")
    logging.getLogger().setLevel(logging.WARNING)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}"
        # Alternate the two in rounds: on a shared machine the load changes by the second, and
        # the median of per-round ratios compares the two under the same conditions.
        rounds: list[tuple[float, float]] = []
        total = 0
        for _ in range(args.rounds):
            ceiling = wrk_rps(url + "/hello", args.seconds, args.concurrency)
            rps, done = asyncio.run(replay_rps(url, args.seconds, args.concurrency, args.workers, ceiling * 0.3))
            rounds.append((ceiling, rps))
            total += done
        per_minute = asyncio.run(browser_per_minute(url, args.browser_sessions))
    finally:
        server.terminate()
        server.wait(10)
    ratios = sorted(rps / ceiling for ceiling, rps in rounds)
    ratio = ratios[len(ratios) // 2]
    ceiling = statistics.median(c for c, _ in rounds)
    rps = statistics.median(r for _, r in rounds)
    print(f"wrk (1 thread, {args.concurrency} connections)  {ceiling:10.0f} requests/s  (median of {args.rounds})")
    print(
        f"trodden replay (concurrency {args.concurrency}, {args.workers} workers)  {rps:10.0f} requests/s  "
        f"({total} requests, status + body shape judged on each)"
    )
    print(
        f"ratio replay / wrk                   {ratio:10.2f}   (median of per-round ratios "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.3)"
    )
    print(f"browser sessions per minute (1 Chromium, 2 pages, goto + click + network): {per_minute:.0f}")
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(a shared machine: the Python client suffers more from contention than wrk)"
    )


if __name__ == "__main__":
    main()
