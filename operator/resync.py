"""Periodic reconciles, without kopf timers.

kopf puts its finalizer on every object that has a timer or a daemon, so that it can stop them
before the object goes; with the operator gone (uninstalled, scaled to zero, crash-looping) such
an object, and its namespace, stay Terminating forever. The periodic work needs no per-object
state, so it is one loop per kind instead: list the kind, reconcile each object whose last
reconcile is older than the kind's period. Objects changed in between are reconciled at once
anyway, by kopf's create/update handlers and the owned-object watches; this loop catches what
no event announces (a rollout finished, store counts, selectors' new selections).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from lightkube import ApiError

from trodden.log import get_logger
from trodden.operator.kube import ALL_NAMESPACES, Kube
from trodden.operator.specs import API_VERSION, KINDS

log = get_logger(__name__)

# Seconds between periodic reconciles of one object, by kind.
PERIOD = {"RumSource": 30.0, "SessionSelector": 30.0, "TestSuite": 15.0, "ReplayRun": 15.0}
CONCURRENCY = 8

Reconcile = Callable[[str, dict[str, Any], float], Awaitable[None]]
Wanted = Callable[[str, dict[str, Any]], bool]


async def _list(kube: Kube, kind: str, namespaces: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for ns in namespaces or [ALL_NAMESPACES]:
        found.extend(await kube.list(API_VERSION, kind, ns))
    return found


async def loop_kind(
    kube: Kube, kind: str, namespaces: Sequence[str], *, reconcile: Reconcile, wanted: Wanted, period: float
) -> None:
    """Forever: every `period` seconds, reconcile every wanted object of `kind` (CONCURRENCY at once)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(body: dict[str, Any], seen_at: float) -> None:
        async with gate:
            await reconcile(kind, body, seen_at)

    while True:
        started = time.monotonic()
        try:
            bodies = await _list(kube, kind, namespaces)
        except ApiError as err:
            log.warning("periodic list failed; trying again next period", kind=kind, error=str(err))
            bodies = []
        seen_at = time.monotonic()
        await asyncio.gather(*(one(b, seen_at) for b in bodies if wanted(kind, b)), return_exceptions=True)
        await asyncio.sleep(max(1.0, period - (time.monotonic() - started)))


async def sweep_forever(
    namespaces: Sequence[str],
    tenants: Callable[[], Awaitable[list[str]]],
    sweep: Callable[[str], Awaitable[Any]],
    interval: float,
) -> None:
    """Every `interval` seconds, sweep each tenant's deleted resources' data (see `tenancy`)."""
    while True:
        try:
            for namespace in await tenants():
                if namespaces and namespace not in namespaces:
                    continue
                try:
                    await sweep(namespace)
                except (ApiError, OSError, asyncpg.PostgresError) as err:
                    log.warning("sweep failed; trying again next time", namespace=namespace, error=str(err))
        except (OSError, asyncpg.PostgresError) as err:
            log.warning("sweep could not list the tenants; trying again next time", error=str(err))
        await asyncio.sleep(interval)


async def run(
    kube: Kube, namespaces: Sequence[str], reconcile: Reconcile, wanted: Wanted, periods: dict[str, float] | None = None
) -> None:
    """One loop per kind, until cancelled."""
    periods = {**PERIOD, **(periods or {})}
    await asyncio.gather(
        *(
            loop_kind(kube, k.kind, namespaces, reconcile=reconcile, wanted=wanted, period=periods[k.kind])
            for k in KINDS
        )
    )
