"""Django's admin (PyPI `django`) on a small lending-library site: server-rendered pages with links,
forms and tables, no test ids and no fetch. Change lists with sortable columns, search, filters
with facet counts, a date hierarchy and pagination; validated forms; permissions by group."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from trodden.shop.services import Services

from ...install import PythonApp
from ...model import BatchSink, Instance, Plant, RealApp, RumTag, Say, SimConfig
from ...traffic import simulate_browsers
from . import users
from .deploy import SITE, restart, seed_template, start_django
from .plants import PLANTS
from .site.realapps_staff import TESTER, password

VERSION = "5.2.19"
PACKAGE = PythonApp(f"django-{VERSION}", (f"django=={VERSION}", "waitress==3.0.2"))


class DjangoAdminApp(RealApp):
    name: ClassVar[str] = "django-admin"
    title: ClassVar[str] = f"Django {VERSION} admin"
    covers: ClassVar[str] = "server-rendered HTML: links, forms, tables, no test ids"
    version: ClassVar[str] = VERSION
    plants: ClassVar[tuple[Plant, ...]] = PLANTS
    default_sessions: ClassVar[int] = 0
    # 14 sessions: each of the 13 journeys at least once (users.JOURNEYS), the population every
    # measured run used; 30 took about an hour on the shared machine (bench/README.md)
    default_browser_sessions: ClassVar[int] = 14

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.template: Path | None = None
        self.services: Services | None = None

    def install(self, say: Say) -> None:
        PACKAGE.ensure(say)
        self.template = seed_template(PACKAGE, self.run_dir / "django" / "template.sqlite3")

    async def start(
        self, services: Services, name: str, *, plants: frozenset[str], tag: RumTag | None, production: bool = False
    ) -> Instance:
        assert self.template is not None, "install() first"
        self.services = services
        return await start_django(
            PACKAGE,
            services,
            self.template,
            name,
            plants=plants,
            secret=self.secret(production=production),
            tag=tag.script() if tag else "",
        )

    async def reset(self, http: aiohttp.ClientSession, instance: Instance) -> None:
        assert self.template is not None and self.services is not None
        await restart(PACKAGE, self.services, self.template, instance)

    async def simulate(
        self, instance: Instance, tag: RumTag, sink: BatchSink, cfg: SimConfig, say: Say
    ) -> dict[str, Any]:
        return await simulate_browsers(instance.url, users.WEIGHTS, users.run_journey, cfg)

    async def replay_env(self, http: aiohttp.ClientSession, instances: list[Instance]) -> dict[str, str]:
        """The library's test account (both groups, in the seeded database of every deployment)."""
        return {"TRODDEN_LOGIN_USERNAME": TESTER, "TRODDEN_LOGIN_PASSWORD": password(TESTER)}

    def simulator_files(self) -> list[Path]:
        return [Path(users.__file__), SITE / "realapps_staff.py", SITE / "realapps_django_seed.py"]
