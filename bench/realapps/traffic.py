"""Simulated users for any application: a seeded, weighted population of journeys, API clients that
record their own requests (as a mobile RUM SDK does) and report each session as one beacon batch,
and Chromium users whose pages carry the tag. The applications' modules supply the journeys."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from trodden.shop.traffic.population import allocate
from trodden.shop.traffic.recorder import Recorder, new_trace

from .model import BatchSink, SimConfig

JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class Plan:
    """One simulated session: its journey and its own randomness."""

    index: int
    journey: str
    seed: int
    client: str = "api"  # "api" or "browser"


def plan_sessions(weights: Mapping[str, float], total: int, seed: int, client: str = "api") -> list[Plan]:
    """Counts by weight (largest remainder, every journey at least once when there is room), shuffled."""
    rng = random.Random(f"{seed}:{client}")
    plans = [
        Plan(0, name, rng.randrange(2**31), client)
        for name, count in allocate(total, dict(weights)).items()
        for _ in range(count)
    ]
    rng.shuffle(plans)
    return [Plan(i, p.journey, p.seed, client) for i, p in enumerate(plans)]


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or the text
    ms: float


class RecordingClient:
    """An application's API client over real HTTP that records every exchange it makes.

    It sends `X-Trodden-Session` and a `traceparent` like the demo's clients, and reports the
    headers its SDK is configured with (`request_headers` / `response_headers`)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        recorder: Recorder,
        *,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.rec = recorder
        self.default_headers = dict(default_headers or {})
        self.statuses: list[int] = []

    async def call(
        self,
        method: str,
        path_or_url: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        raw: str | None = None,
    ) -> Response:
        trace_id, span_id, traceparent = new_trace()
        sent = {
            "Accept": "application/json",
            **self.default_headers,
            **(headers or {}),
            "X-Trodden-Session": self.rec.session_id,
            "traceparent": traceparent,
        }
        data: str | None = raw
        if body is not None:
            data = orjson.dumps(body).decode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        url = path_or_url if urlsplit(path_or_url).scheme else self.base_url + path_or_url
        started = time.perf_counter()
        async with self.http.request(method, url, data=data, headers=sent, allow_redirects=False) as response:
            text = await response.text()
            ms = (time.perf_counter() - started) * 1000
            parsed: Any = text or None
            if text and response.content_type in JSON_TYPES:
                try:
                    parsed = orjson.loads(text)
                except orjson.JSONDecodeError:
                    parsed = text
            self.rec.request(
                method,
                url,
                status=response.status,
                duration_ms=ms,
                request_headers=sent,
                response_headers=dict(response.headers),
                request_body=body if body is not None else raw,
                response_body=parsed if response.content_type in JSON_TYPES else None,
                trace_id=trace_id,
                span_id=span_id,
            )
            self.statuses.append(response.status)
            return Response(response.status, {k.lower(): v for k, v in response.headers.items()}, parsed, ms)


@dataclass
class Outcome:
    plan: Plan
    requests: int = 0
    statuses: list[int] = field(default_factory=list)
    error: str | None = None


@dataclass
class Population:
    """Runs plans with a bounded number of workers until done or the deadline (no new session after it)."""

    outcomes: list[Outcome] = field(default_factory=list)
    not_started: int = 0
    beacon_failures: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        by_client = Counter(o.plan.client for o in self.outcomes)
        failed = [o for o in self.outcomes if o.error]
        return {
            "sessions": len(self.outcomes),
            "by_client": dict(by_client),
            "completed": len(self.outcomes) - len(failed),
            "failed": len(failed),
            "not_started": self.not_started,
            "beacon_failures": self.beacon_failures,
            "requests": sum(o.requests for o in self.outcomes),
            "by_journey": dict(sorted(Counter(o.plan.journey for o in self.outcomes).items())),
            "statuses": {str(k): v for k, v in sorted(Counter(s for o in self.outcomes for s in o.statuses).items())},
            "errors": [f"{o.plan.journey}: {o.error}" for o in failed][:10],
            "seconds": round(self.seconds, 1),
        }


ApiJourney = Callable[[RecordingClient, random.Random, Plan], Awaitable[None]]


async def run_api_clients(
    base_url: str,
    plans: list[Plan],
    journeys: Mapping[str, ApiJourney],
    sink: BatchSink,
    *,
    attributes: Mapping[str, Any],
    request_headers: tuple[str, ...],
    response_headers: tuple[str, ...],
    concurrency: int,
    deadline: float,
    report: Population,
) -> None:
    """API client sessions: each records its requests and posts them as one batch when it ends."""
    queue: asyncio.Queue[Plan] = asyncio.Queue()
    for plan in plans:
        queue.put_nowait(plan)

    async def worker() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            while not queue.empty():
                plan = queue.get_nowait()
                if time.monotonic() > deadline:
                    report.not_started += 1
                    continue
                recorder = Recorder(
                    f"app-{uuid.UUID(int=random.Random(plan.seed).getrandbits(128)).hex}",
                    attributes=dict(attributes),
                    request_header_names=request_headers,
                    response_header_names=response_headers,
                )
                client = RecordingClient(http, base_url, recorder)
                outcome = Outcome(plan)
                report.outcomes.append(outcome)
                try:
                    await journeys[plan.journey](client, random.Random(plan.seed), plan)
                except Exception as exc:  # a failed simulated user is counted, not fatal
                    outcome.error = f"{type(exc).__name__}: {str(exc)[:200]}"
                outcome.requests, outcome.statuses = len(client.statuses), client.statuses
                if recorder.events:
                    try:
                        status = await sink.post_batch(http, recorder.batch())
                    except (aiohttp.ClientError, TimeoutError):
                        status = 0
                    if status == 0 or status >= 300:
                        report.beacon_failures += 1

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))


@dataclass
class Browsing:
    """What a browser journey drives: the page (Playwright), the app's base URL, its randomness."""

    page: Any
    base_url: str
    rng: random.Random
    plan: Plan

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base_url + path, wait_until="load")


BrowserJourney = Callable[[Browsing], Awaitable[None]]


async def run_browsers(
    base_url: str,
    plans: list[Plan],
    journeys: Mapping[str, BrowserJourney],
    *,
    concurrency: int,
    deadline: float,
    report: Population,
    new_context: Callable[[Any, Plan], Awaitable[Any]] | None = None,
    step_timeout_ms: int = 15000,
) -> None:
    """Browser sessions in Chromium: one context per session; each ends on about:blank so the tag's
    page-hide beacon leaves. A journey gets a `Browsing` and drives the app's real pages."""
    if not plans:
        return
    from playwright.async_api import async_playwright

    from trodden.browser import launch_chromium

    queue: asyncio.Queue[Plan] = asyncio.Queue()
    for plan in plans:
        queue.put_nowait(plan)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:

            async def worker() -> None:
                while not queue.empty():
                    plan = queue.get_nowait()
                    if time.monotonic() > deadline:
                        report.not_started += 1
                        continue
                    outcome = Outcome(plan)
                    report.outcomes.append(outcome)
                    context = await (new_context(browser, plan) if new_context else browser.new_context())
                    context.set_default_timeout(step_timeout_ms)
                    statuses: list[int] = []
                    try:
                        page = await context.new_page()
                        page.on("response", lambda r, seen=statuses: seen.append(int(r.status)))
                        await journeys[plan.journey](
                            Browsing(page, base_url.rstrip("/"), random.Random(plan.seed), plan)
                        )
                        await page.goto("about:blank")
                        await page.wait_for_timeout(300)  # let the tag's page-hide beacon leave
                    except Exception as exc:
                        outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                    finally:
                        outcome.statuses = statuses
                        outcome.requests = len(statuses)
                        await context.close()

            await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
        finally:
            await browser.close()


async def simulate_browsers(
    base_url: str, weights: Mapping[str, float], journey: BrowserJourney, cfg: SimConfig
) -> dict[str, Any]:
    """A browser population of an app whose journeys all go through `journey` (it dispatches on
    `plan.journey`); returns the traffic summary."""
    plans = plan_sessions(weights, cfg.browser_sessions, cfg.seed, client="browser")
    report = Population()
    started = time.monotonic()
    await run_browsers(
        base_url,
        plans,
        dict.fromkeys(weights, journey),
        concurrency=cfg.browser_concurrency,
        deadline=started + cfg.duration_s,
        report=report,
    )
    report.seconds = time.monotonic() - started
    await asyncio.sleep(1)  # the last page-hide beacons
    return report.summary()
