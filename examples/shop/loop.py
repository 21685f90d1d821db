"""The whole Trodden loop on the demo shop, stage by stage, driving the other components through
their documented CLIs (`trodden collect/select/generate/replay`, `--json`) so the demo depends only
on those contracts. Used by `trodden demo`, `bench/detection.py` and the end-to-end test.

Stages: services → traffic → captured → select → generate → replay v1 (N times, expect nothing) →
replay v2 against the v1 baseline (expect every planted regression) → [status-only peer].
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from trodden.shop.catalogue import PAYMENT_TOKENS
from trodden.shop.regressions import PLANTED, caught_by
from trodden.shop.services import CliResult, Service, Services, trodden
from trodden.shop.traffic.run import TrafficConfig, run_traffic
from trodden.store import Store, resolve_dsn

Say = Callable[[str, str], None]  # (stage, message)


@dataclass(frozen=True)
class LoopConfig:
    run_dir: Path
    api_users: int = 60
    browser_users: int = 8
    duration_s: float = 90.0
    concurrency: int = 4
    browser_concurrency: int = 2
    seed: int = 7
    dsn: str | None = None
    v1_replays: int = 1
    status_only_peer: bool = False
    keep_running: bool = False
    select_args: tuple[str, ...] = ()
    generate_args: tuple[str, ...] = ()
    replay_args: tuple[str, ...] = ("--retries", "0", "--concurrency", "4")


@dataclass
class LoopResult:
    source: str
    suite: str
    run_dir: Path
    urls: dict[str, str] = field(default_factory=dict)
    traffic: dict[str, Any] = field(default_factory=dict)
    captured: dict[str, Any] = field(default_factory=dict)
    selection: Any = None
    generation: Any = None
    v1_reports: list[dict[str, Any]] = field(default_factory=list)
    v2_report: dict[str, Any] | None = None
    caught: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    peer_caught: dict[str, list[Mapping[str, Any]]] | None = None
    html_report: Path | None = None
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def false_alarms(self) -> list[int]:
        return [len(r.get("regressions", [])) for r in self.v1_reports]

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "suite": self.suite,
            "run_dir": str(self.run_dir),
            "traffic": self.traffic,
            "captured": self.captured,
            "selection": self.selection,
            "generation": self.generation,
            "false_alarms_per_v1_replay": self.false_alarms,
            "v2_regressions_reported": len((self.v2_report or {}).get("regressions", [])),
            "planted": [
                {
                    "id": p.id,
                    "kind": p.kind,
                    "endpoint": p.endpoint,
                    "caught": bool(self.caught.get(p.id)),
                    "caught_by": [_by(f) for f in self.caught.get(p.id, [])][:5],
                    "peer_caught": bool((self.peer_caught or {}).get(p.id)) if self.peer_caught is not None else None,
                }
                for p in PLANTED
            ],
            "caught": sum(1 for p in PLANTED if self.caught.get(p.id)),
            "planted_total": len(PLANTED),
            "peer_caught": sum(1 for p in PLANTED if (self.peer_caught or {}).get(p.id))
            if self.peer_caught is not None
            else None,
            "html_report": str(self.html_report) if self.html_report else None,
            "failures": self.failures,
            "seconds": round(self.seconds, 1),
        }


def _counts(report: Mapping[str, Any]) -> str:
    counts = report.get("counts") or {}
    shown = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("passed", "failed", "flaky", "skipped", "error"))
    return f"{shown}; {len(report.get('regressions', []))} regression findings"


def _by(finding: Mapping[str, Any]) -> dict[str, Any]:
    assertion = finding.get("assertion") or {}
    return {
        "test": finding.get("test"),
        "step": finding.get("step"),
        "endpoint": finding.get("endpoint"),
        "assertion": assertion.get("id"),
        "kind": assertion.get("kind"),
        "description": assertion.get("description"),
        "expected": finding.get("expected"),
        "actual": finding.get("actual"),
    }


class StageFailed(RuntimeError):
    pass


def _env(cfg: LoopConfig) -> dict[str, str]:
    env = dict(os.environ)
    if cfg.dsn:
        env["TRODDEN_DSN"] = cfg.dsn
    env.setdefault("TRODDEN_LOG_LEVEL", "warning")
    return env


def _require(result: CliResult, ok_codes: tuple[int, ...] = (0,)) -> CliResult:
    if result.returncode not in ok_codes:
        raise StageFailed(f"`{' '.join(result.argv)}` failed: {result.reason()}")
    return result


async def _reset(http: aiohttp.ClientSession, *services: Service) -> None:
    for service in services:
        async with http.post(service.url + "/__reset") as response:
            response.raise_for_status()


async def count_captured(source: str, dsn: str | None) -> dict[str, Any]:
    """What reached PostgreSQL for the source (read-only queries on the kernel's tables)."""
    store = await Store.open(resolve_dsn(dsn))
    try:
        async with store.pool.acquire() as conn:
            sessions = await conn.fetchval("SELECT count(*) FROM sessions WHERE source = $1", source)
            kinds = await conn.fetch(
                "SELECT kind, count(*) AS n FROM events WHERE source = $1 GROUP BY kind ORDER BY n DESC", source
            )
            spans = await conn.fetchval("SELECT count(*) FROM spans WHERE source = $1", source)
            linked = await conn.fetchval(
                "SELECT count(*) FROM spans WHERE source = $1 AND session_id IS NOT NULL", source
            )
    finally:
        await store.close()
    return {
        "sessions": int(sessions),
        "events": {r["kind"]: int(r["n"]) for r in kinds},
        "spans": int(spans),
        "spans_linked_to_sessions": int(linked),
    }


async def _settle(source: str, dsn: str | None, say: Say, max_wait_s: float = 20) -> dict[str, Any]:
    """Wait until the captured counts stop growing (beacons sent on page hide arrive last)."""
    last: dict[str, Any] = {}
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline:
        now = await count_captured(source, dsn)
        if now == last and now["sessions"]:
            return now
        last = now
        await asyncio.sleep(2)
    say("captured", "counts still moving after the wait; continuing")
    return last


async def replay(
    cfg: LoopConfig,
    *,
    suite: str,
    target: Service,
    name: str,
    baseline: Service | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[dict[str, Any], Path]:
    out = cfg.run_dir / name
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "replay",
        "--suite",
        suite,
        "--target",
        target.url,
        "--json-report",
        str(out / "report.json"),
        "--html",
        str(out / "html"),
        *cfg.replay_args,
        *extra,
    ]
    if baseline is not None:
        args += ["--baseline", baseline.url]
    result = _require(await trodden(args, _env(cfg)), ok_codes=(0, 1))
    report_path = out / "report.json"
    if not report_path.exists():
        raise StageFailed(f"`trodden replay` wrote no JSON report ({result.reason()})")
    import orjson

    report: dict[str, Any] = orjson.loads(report_path.read_bytes())
    if (result.returncode == 1) != bool(report.get("regressions")):
        raise StageFailed(f"`trodden replay` exit code {result.returncode} disagrees with its report")
    return report, out / "html"


async def run_loop(cfg: LoopConfig, say: Say) -> LoopResult:
    started = time.monotonic()
    stamp = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    result = LoopResult(source=f"shop-{stamp}", suite=f"shop-{stamp}", run_dir=cfg.run_dir)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    env = _env(cfg)
    services = Services(cfg.run_dir / "logs", env=env)
    ingest_key = secrets.token_urlsafe(24)
    try:
        async with aiohttp.ClientSession() as http:
            say("services", "starting the collector and three shops (v1 recorded, v1 and v2 replay targets)")
            collector = await services.start_collector(result.source, ingest_key)
            capture, v1, v2 = await asyncio.gather(
                services.start_shop("shop-v1-recorded", 1, collector_url=collector.url, ingest_key=ingest_key),
                services.start_shop("shop-v1", 1),
                services.start_shop("shop-v2", 2),
            )
            result.urls = {"collector": collector.url, "recorded": capture.url, "v1": v1.url, "v2": v2.url}
            say("services", " · ".join(f"{k} {u}" for k, u in result.urls.items()))

            say("traffic", f"{cfg.api_users} API clients + {cfg.browser_users} browser users, ≤ {cfg.duration_s:.0f} s")
            traffic = await run_traffic(
                TrafficConfig(
                    capture.url,
                    collector.url,
                    ingest_key,
                    cfg.api_users,
                    cfg.browser_users,
                    cfg.duration_s,
                    cfg.concurrency,
                    cfg.browser_concurrency,
                    cfg.seed,
                )
            )
            result.traffic = traffic.summary()
            say(
                "traffic",
                f"{result.traffic.get('sessions')} sessions, {result.traffic.get('requests')} API requests, "
                f"{result.traffic.get('failed')} failed",
            )
            await services.stop(capture)  # flushes its last spans to the collector
            say("captured", "waiting for the last beacons and spans to reach PostgreSQL")
            result.captured = await _settle(result.source, cfg.dsn, say)
            if not result.captured.get("sessions"):
                raise StageFailed("no session reached the collector")

            say("select", f"trodden select --source {result.source}")
            select = _require(await trodden(["select", "--source", result.source, "--json", *cfg.select_args], env))
            result.selection = select.json()
            say("select", f"{len((result.selection or {}).get('sessions', []))} sessions chosen")
            # The shop's test fixtures (card tokens) are stored as pseudonyms; the team names them so
            # the tests pay with the real test token (docs/synthesis.md, "Known test values").
            say("generate", "trodden generate: tests from the selected sessions, assertions mined from all of them")
            known = [arg for token in PAYMENT_TOKENS for arg in ("--known-value", token)]
            generate = _require(
                await trodden(
                    [
                        "generate",
                        "--source",
                        result.source,
                        "--suite",
                        result.suite,
                        "--json",
                        *known,
                        *cfg.generate_args,
                    ],
                    env,
                )
            )
            result.generation = generate.json()
            gen = result.generation if isinstance(result.generation, dict) else {}
            say("generate", f"{gen.get('tests')} tests, {gen.get('assertions')} mined assertions")

            for i in range(cfg.v1_replays):
                await _reset(http, v1)
                report, html = await replay(cfg, suite=result.suite, target=v1, name=f"replay-v1-{i + 1}")
                result.v1_reports.append(report)
                result.html_report = html
                say("replay v1", f"{i + 1}/{cfg.v1_replays}: {_counts(report)}")

            await _reset(http, v1, v2)
            report, html = await replay(cfg, suite=result.suite, target=v2, name="replay-v2", baseline=v1)
            result.v2_report = report
            result.html_report = html
            result.caught = caught_by(report.get("regressions", []))
            say(
                "replay v2",
                f"{_counts(report)}; planted caught {sum(1 for v in result.caught.values() if v)}/{len(PLANTED)}",
            )

            if cfg.status_only_peer:
                # The peer: the same tests judged like a HAR replayer would (status codes only, HTTP only).
                await _reset(http, v2)
                peer, _ = await replay(
                    cfg,
                    suite=result.suite,
                    target=v2,
                    name="replay-v2-status-only",
                    extra=("--status-only", "--only", "http"),
                )
                result.peer_caught = caught_by(peer.get("regressions", []))
                say(
                    "peer",
                    f"status codes only: planted caught {sum(1 for v in result.peer_caught.values() if v)}/"
                    f"{len(PLANTED)}",
                )
            if cfg.keep_running:
                say("done", "services keep running: " + " · ".join(f"{k} {u}" for k, u in result.urls.items()))
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
    except StageFailed as exc:
        result.failures.append(str(exc))
    finally:
        try:
            await services.stop_all()
        finally:
            services.kill_all_now()
    result.seconds = time.monotonic() - started
    return result
