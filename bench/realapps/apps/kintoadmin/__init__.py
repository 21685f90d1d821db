"""kinto-admin (the React single-page app bundled in PyPI `kinto==20.6.1`, served by Kinto at
/v1/admin/): routes after `#` (`#/buckets/blog/collections/posts/records`), every read and write a
fetch to Kinto's API. A reverse proxy in front adds the tag (and the collector to the page's CSP)
and carries the front-end plants; the Kinto plugin carries the server-side ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from trodden.shop.services import Services

from ...install import PythonApp
from ...model import BatchSink, Instance, Plant, RealApp, RumTag, Say, SimConfig
from ...proxy import Proxy
from ...traffic import simulate_browsers
from ..kinto.deploy import flush, start_kinto
from . import users
from .plants import PLANTS, UI
from .seed import OWNER, TESTER, password, seed

VERSION = "20.6.1"  # the last Kinto on PyPI whose wheel bundles kinto-admin (3.7.1)
# kinto 20.6.1 predates pyramid-multiauth 1.1, whose change makes every Basic login fail with it.
PACKAGE = PythonApp(f"kinto-{VERSION}", (f"kinto=={VERSION}", "pyramid-multiauth<1.1"))


class KintoAdminApp(RealApp):
    name: ClassVar[str] = "kinto-admin"
    title: ClassVar[str] = "kinto-admin 3.7.1 (Kinto 20.6.1)"
    covers: ClassVar[str] = "single-page app: fragment routes, fetch to its API"
    version: ClassVar[str] = VERSION
    plants: ClassVar[tuple[Plant, ...]] = PLANTS
    default_sessions: ClassVar[int] = 0
    default_browser_sessions: ClassVar[int] = 24

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.proxies: list[Proxy] = []

    def install(self, say: Say) -> None:
        PACKAGE.ensure(say)

    async def start(
        self, services: Services, name: str, *, plants: frozenset[str], tag: RumTag | None, production: bool = False
    ) -> Instance:
        server_plants = frozenset(p for p in plants if p not in UI)
        kinto = await start_kinto(
            PACKAGE,
            services,
            self.run_dir / "kinto",
            name,
            plants=server_plants,
            secret=self.secret(production=production),
            # realapps_kinto_backports: a later Kinto's fix of its memory backend (heartbeat 503s at random)
            extra_includes=("kinto.plugins.admin", "kinto.plugins.history", "realapps_kinto_backports"),
            extra_settings=f"realapps.owner = account:{OWNER[0]}\nkinto.experimental_permissions_endpoint = true",
            bucket_creators="system.Authenticated",
        )
        proxy = Proxy(kinto.url, tag=tag, ui={p: UI[p] for p in plants if p in UI})
        await proxy.start()
        self.proxies.append(proxy)
        instance = Instance(name, proxy.url, plants, kinto.services, {"kinto": kinto.url})
        async with aiohttp.ClientSession() as http:
            await seed(http, kinto.url)
        return instance

    async def reset(self, http: aiohttp.ClientSession, instance: Instance) -> None:
        kinto = Instance(instance.name, instance.details["kinto"], instance.plants)
        await flush(http, kinto)
        await seed(http, kinto.url)

    async def simulate(
        self, instance: Instance, tag: RumTag, sink: BatchSink, cfg: SimConfig, say: Say
    ) -> dict[str, Any]:
        return await simulate_browsers(instance.url, users.WEIGHTS, users.run_journey, cfg)

    async def replay_env(self, http: aiohttp.ClientSession, instances: list[Instance]) -> dict[str, str]:
        """The team's test account (seeded on every deployment), for the sign-in form."""
        return {"TRODDEN_LOGIN_USERNAME": TESTER, "TRODDEN_LOGIN_PASSWORD": password(TESTER)}

    async def stop(self) -> None:
        for proxy in self.proxies:
            await proxy.stop()
        self.proxies.clear()

    def simulator_files(self) -> list[Path]:
        return [Path(users.__file__), Path(users.__file__).with_name("seed.py")]
