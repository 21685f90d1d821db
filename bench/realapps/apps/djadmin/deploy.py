"""Starting Django's admin (from PyPI, unedited) on a small sample site: a seeded SQLite database
made once per run and copied for each deployment, served by waitress on loopback. A reset is a
restart on a fresh copy, on the same port."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from trodden.shop.services import Services, free_port

from ...install import PythonApp
from ...model import Instance

SITE = Path(__file__).with_name("site")
SERVE = SITE / "realapps_django_serve.py"
READY = re.compile(r"listening on (http://\S+)")


def seed_template(package: PythonApp, path: Path) -> Path:
    """Migrate and seed one database (users, groups, authors, books, members, loans) to copy from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    done = subprocess.run(
        [str(package.python), str(SERVE), "--seed-db", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seeding the Django database failed: {done.stderr.strip().splitlines()[-1:]}")
    return path


async def start_django(
    package: PythonApp,
    services: Services,
    template: Path,
    name: str,
    *,
    plants: frozenset[str],
    secret: str,
    tag: str = "",
    port: int | None = None,
) -> Instance:
    db = template.with_name(f"{name}.sqlite3")
    shutil.copyfile(template, db)
    port = port or free_port()
    argv = [
        str(package.python),
        str(SERVE),
        "--db",
        str(db),
        "--port",
        str(port),
        "--secret",
        secret,
        "--plants",
        " ".join(sorted(plants)),
        "--tag",
        tag,
    ]
    service = await services.start(name, argv, READY)
    return Instance(name, service.url, plants, [service], {"port": port, "secret": secret, "tag": tag})


async def restart(package: PythonApp, services: Services, template: Path, instance: Instance) -> None:
    for service in instance.services:
        await services.stop(service)
    fresh = await start_django(
        package,
        services,
        template,
        instance.name,
        plants=instance.plants,
        secret=instance.details["secret"],
        tag=instance.details["tag"],
        port=instance.details["port"],
    )
    instance.url, instance.services = fresh.url, fresh.services
