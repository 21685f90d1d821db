"""Kinto (PyPI `kinto`): a JSON REST API under /v1/ with accounts (a password, then HTTP Basic),
records with generated and client-chosen short ids, pagination (`_limit`, `Next-Page`), sorting,
filters, batch, permissions, and a root document that echoes its own URL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from trodden.shop.services import Services

from ...install import PythonApp
from ...model import BatchSink, Instance, Plant, RealApp, RumTag, Say, SimConfig
from ...traffic import Population, plan_sessions, run_api_clients
from . import users
from .deploy import flush, start_kinto
from .plants import PLANTS

VERSION = "26.5.0"
PACKAGE = PythonApp(f"kinto-{VERSION}", (f"kinto=={VERSION}",))
TEST_ACCOUNT = ("replay-tester", "replay-tester-password-1")


class KintoApp(RealApp):
    name: ClassVar[str] = "kinto"
    title: ClassVar[str] = f"Kinto {VERSION}"
    covers: ClassVar[str] = "JSON REST API with authentication under /v1/"
    version: ClassVar[str] = VERSION
    plants: ClassVar[tuple[Plant, ...]] = PLANTS
    default_sessions: ClassVar[int] = 80

    def install(self, say: Say) -> None:
        PACKAGE.ensure(say)

    async def start(
        self, services: Services, name: str, *, plants: frozenset[str], tag: RumTag | None, production: bool = False
    ) -> Instance:
        secret = self.secret(production=production)
        return await start_kinto(PACKAGE, services, self.run_dir / "kinto", name, plants=plants, secret=secret)

    async def reset(self, http: aiohttp.ClientSession, instance: Instance) -> None:
        await flush(http, instance)

    async def simulate(
        self, instance: Instance, tag: RumTag, sink: BatchSink, cfg: SimConfig, say: Say
    ) -> dict[str, Any]:
        plans = plan_sessions(users.WEIGHTS, cfg.sessions, cfg.seed)
        returning = await users.create_returning_accounts(instance.url, plans)
        say(f"{returning} returning users have an account from before the recording")
        report = Population()
        started = time.monotonic()
        await run_api_clients(
            instance.url,
            plans,
            {name: users.run_journey for name in users.JOURNEYS},
            sink,
            attributes=users.ATTRIBUTES,
            request_headers=users.REQUEST_HEADERS,
            response_headers=users.RESPONSE_HEADERS,
            concurrency=cfg.concurrency,
            deadline=started + cfg.duration_s,
            report=report,
        )
        report.seconds = time.monotonic() - started
        return report.summary()

    async def replay_env(self, http: aiohttp.ClientSession, instances: list[Instance]) -> dict[str, str]:
        """One test account, given once (what a user of Trodden provides for returning users' sessions)."""
        name, password = TEST_ACCOUNT
        for instance in instances:
            async with http.put(f"{instance.url}/v1/accounts/{name}", json={"data": {"password": password}}) as r:
                if r.status not in (200, 201):
                    raise RuntimeError(f"{instance.name}: could not create the test account ({r.status})")
        return {"TRODDEN_AUTH_AUTHORIZATION": users.basic(name, password)}

    def simulator_files(self) -> list[Path]:
        return [Path(users.__file__)]
