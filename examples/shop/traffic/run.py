"""Run a simulated population against a shop for a bounded time and count.

`await run_traffic(TrafficConfig(...))` or `python -m trodden.shop.traffic --target URL ...`.
API clients and browser users run side by side, each kind with its own concurrency; no new session
starts after the deadline, and sessions already running finish.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from trodden.log import get_logger
from trodden.shop.traffic.apiclient import run_api_session
from trodden.shop.traffic.population import SessionPlan, plan_population
from trodden.shop.traffic.recorder import send_batch

log = get_logger(__name__)


@dataclass(frozen=True)
class TrafficConfig:
    target: str  # the shop's base URL
    collector_url: str | None = None  # where API clients post their sessions (browsers use rum.js)
    ingest_key: str | None = None
    api_sessions: int = 60
    browser_sessions: int = 8
    duration_s: float = 120.0
    concurrency: int = 4
    browser_concurrency: int = 2
    seed: int = 7


@dataclass
class SessionOutcome:
    session_id: str
    plan: SessionPlan
    statuses: list[int] = field(default_factory=list)
    events: int = 0
    error: str | None = None


@dataclass
class TrafficReport:
    outcomes: list[SessionOutcome] = field(default_factory=list)
    not_started: int = 0
    beacon_failures: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = [o for o in self.outcomes if o.error is None]
        return {
            "sessions": len(self.outcomes),
            "completed": len(done),
            "failed": len(self.outcomes) - len(done),
            "not_started": self.not_started,
            "beacon_failures": self.beacon_failures,
            "seconds": round(self.seconds, 1),
            "by_client": dict(Counter(o.plan.client for o in self.outcomes)),
            "by_journey": dict(Counter(o.plan.journey for o in self.outcomes)),
            "by_region": dict(Counter(o.plan.region for o in self.outcomes)),
            "requests": sum(len(o.statuses) for o in self.outcomes),
            "statuses": {str(k): v for k, v in sorted(Counter(s for o in self.outcomes for s in o.statuses).items())},
            "errors": [f"{o.plan.client}/{o.plan.journey}: {o.error}" for o in self.outcomes if o.error][:10],
        }


async def _api_worker(
    queue: asyncio.Queue[SessionPlan], cfg: TrafficConfig, deadline: float, report: TrafficReport
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        while not queue.empty():
            plan = queue.get_nowait()
            if time.monotonic() > deadline:
                report.not_started += 1
                continue
            session_id = f"app-{uuid.uuid4().hex}"
            outcome = SessionOutcome(session_id, plan)
            report.outcomes.append(outcome)
            try:
                user = await run_api_session(http, cfg.target, plan, session_id)
                outcome.statuses, outcome.events = user.statuses, len(user.rec.events)
            except Exception as exc:  # a failed simulated user is counted, not fatal
                outcome.error = f"{type(exc).__name__}: {exc}"
                user = None
            if cfg.collector_url and cfg.ingest_key and user is not None:
                try:
                    status = await send_batch(http, cfg.collector_url, cfg.ingest_key, user.rec)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = 0
                    log.warning("beacon not delivered", error=repr(exc))
                if status >= 300 or status == 0:
                    report.beacon_failures += 1


async def _browser_worker(
    queue: asyncio.Queue[SessionPlan], cfg: TrafficConfig, deadline: float, report: TrafficReport, browser: Any
) -> None:
    from trodden.shop.traffic.browser import run_browser_session

    while not queue.empty():
        plan = queue.get_nowait()
        if time.monotonic() > deadline:
            report.not_started += 1
            continue
        outcome = SessionOutcome(f"browser-{plan.index}", plan)
        report.outcomes.append(outcome)
        try:
            user = await run_browser_session(browser, cfg.target, plan)
            outcome.events = user.orders
        except Exception as exc:
            outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


async def run_traffic(cfg: TrafficConfig) -> TrafficReport:
    started = time.monotonic()
    deadline = started + cfg.duration_s
    plans = plan_population(cfg.api_sessions, cfg.browser_sessions, cfg.seed)
    api_queue: asyncio.Queue[SessionPlan] = asyncio.Queue()
    browser_queue: asyncio.Queue[SessionPlan] = asyncio.Queue()
    for plan in plans:
        (api_queue if plan.client == "api" else browser_queue).put_nowait(plan)
    report = TrafficReport()
    tasks = [_api_worker(api_queue, cfg, deadline, report) for _ in range(max(1, cfg.concurrency))]
    if cfg.browser_sessions > 0:
        from playwright.async_api import async_playwright

        from trodden.browser import launch_chromium

        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                tasks += [
                    _browser_worker(browser_queue, cfg, deadline, report, browser)
                    for _ in range(max(1, cfg.browser_concurrency))
                ]
                await asyncio.gather(*tasks)
            finally:
                await browser.close()
    else:
        await asyncio.gather(*tasks)
    report.seconds = time.monotonic() - started
    log.info("traffic done", **{k: v for k, v in report.summary().items() if k in ("sessions", "failed", "requests")})
    return report
