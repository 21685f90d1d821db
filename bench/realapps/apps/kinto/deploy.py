"""Starting Kinto (from PyPI, unedited) on loopback: an ini file per deployment, in-memory backends,
accounts with HTTP Basic, the personal `default` bucket, the flush endpoint for resets between
replays, and the harness's plugin for planted regressions."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from trodden.shop.services import Services, free_port

from ...install import PythonApp
from ...model import Instance

SERVER_DIR = Path(__file__).with_name("server")

INI = """\
[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.storage.memory
kinto.storage_url =
kinto.cache_backend = kinto.core.cache.memory
kinto.cache_url =
kinto.permission_backend = kinto.core.permission.memory
kinto.permission_url =
kinto.includes = kinto.plugins.default_bucket
                 kinto.plugins.accounts
                 kinto.plugins.flush
{includes}
multiauth.policies = account
multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy
kinto.account_create_principals = system.Everyone
kinto.account_write_principals = account:admin
kinto.bucket_create_principals = {bucket_creators}
kinto.userid_hmac_secret = {secret}
kinto.default_bucket_hmac_secret = {secret}
kinto.flush_endpoint_enabled = true
realapps.plants = {plants}
{extra}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)s %(name)s %(message)s
"""


def write_ini(
    ini: Path,
    *,
    plants: frozenset[str],
    secret: str,
    extra_settings: str,
    extra_includes: tuple[str, ...] = (),
    bucket_creators: str = "account:admin",
) -> Path:
    ini.parent.mkdir(parents=True, exist_ok=True)
    includes = "\n".join(
        f"                 {name}" for name in (*extra_includes, *(("realapps_kinto_plants",) if plants else ()))
    )
    ini.write_text(
        INI.format(
            includes=includes,
            secret=secret,
            plants=" ".join(sorted(plants)),
            extra=extra_settings,
            bucket_creators=bucket_creators,
        )
    )
    return ini


async def start_kinto(
    package: PythonApp,
    services: Services,
    run_dir: Path,
    name: str,
    *,
    plants: frozenset[str],
    secret: str,
    extra_settings: str = "",
    extra_includes: tuple[str, ...] = (),
    bucket_creators: str = "account:admin",
) -> Instance:
    """`secret` keys user ids and personal bucket ids (HMACs): one per fleet of deployments."""
    ini = write_ini(
        run_dir / f"{name}.ini",
        plants=plants,
        secret=secret,
        extra_settings=extra_settings,
        extra_includes=extra_includes,
        bucket_creators=bucket_creators,
    )
    argv = [str(package.python), str(SERVER_DIR / "realapps_kinto_serve.py"), str(ini), "--port", str(free_port())]
    service = await services.start(name, argv, re.compile(r"listening on (http://\S+)"))
    return Instance(name, service.url, plants, [service])


async def flush(http: aiohttp.ClientSession, instance: Instance) -> None:
    """Kinto's own flush endpoint: every bucket, record, account and permission is gone."""
    async with http.post(instance.url + "/v1/__flush__") as response:
        if response.status != 202:
            raise RuntimeError(f"{instance.name}: POST /v1/__flush__ answered {response.status}")
