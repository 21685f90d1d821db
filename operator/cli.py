"""`trodden crds` and `trodden operator`."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import click
from aiohttp import web

from trodden.cliutil import InputError, dsn_option, run
from trodden.log import get_logger
from trodden.operator.builders import Runtime

REPO_CRDS = Path("crds")
CHART_CRDS = Path("charts/trodden/crds")


@click.command()
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (repeatable; default: crds/ and charts/trodden/crds/).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the committed files drift from the models.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the CRDs as one YAML stream instead.")
def crds(outputs: tuple[Path, ...], check: bool, to_stdout: bool) -> None:
    """Generate the CustomResourceDefinitions from the pydantic spec models."""
    from trodden.operator import crdgen

    if to_stdout:
        click.echo("---\n".join(crdgen.rendered_files().values()), nl=False)
        return
    folders = outputs or (REPO_CRDS, CHART_CRDS)
    if check:
        stale = crdgen.drift(*folders)
        if stale:
            click.echo("CRDs drift from the models (run `trodden crds`): " + ", ".join(stale), err=True)
            raise SystemExit(1)
        click.echo("CRDs are up to date")
        return
    for path in crdgen.write(*folders):
        click.echo(f"wrote {path}")


def dsn_with_password(dsn: str, password: str) -> str:
    """`dsn` with `password` put in, URL-encoded (`TRODDEN_DB_PASSWORD`, from a Secret).

    The chart passes the bundled database's DSN without its password and the password from its
    Secret, so no rendered manifest holds it and any character in it survives. InputError when
    the DSN names no user or already carries a password (two sources, one would be ignored).
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise InputError("TRODDEN_DB_PASSWORD needs a DSN of the form postgresql://USER@HOST[:PORT]/DB")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if not userinfo:
        raise InputError("TRODDEN_DB_PASSWORD is set but the DSN names no user (postgresql://USER@HOST/DB)")
    if ":" in userinfo:
        raise InputError("TRODDEN_DB_PASSWORD is set but the DSN already has a password: give only one")
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{quote(password, safe='')}@{hostport}"))


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    """`30s`, `15m`, `12h`, `7d` as a timedelta."""
    match = re.fullmatch(r"([1-9][0-9]*)([smhd])", value.strip())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration like 30s, 15m, 12h or 7d", ctx=ctx, param=param)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


@dataclass(frozen=True)
class OperatorOptions:
    dsn: str | None
    namespaces: tuple[str, ...]
    runtime: Runtime
    leader_election: bool
    lease: str  # namespace/name of the leader Lease
    identity: str
    http_port: int
    health_port: int
    deleted_retention: timedelta
    sweep_interval: float


@click.command()
@dsn_option
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Watch only these namespaces (default: all).")
@click.option(
    "--image",
    envvar="TRODDEN_IMAGE",
    default="trodden:latest",
    show_default=True,
    help="Image of the collector, job and replay pods [env TRODDEN_IMAGE].",
)
@click.option(
    "--image-pull-policy",
    envvar="TRODDEN_IMAGE_PULL_POLICY",
    default="IfNotPresent",
    show_default=True,
    type=click.Choice(["Always", "IfNotPresent", "Never"]),
)
@click.option(
    "--pod-service-account",
    envvar="TRODDEN_POD_SERVICE_ACCOUNT",
    default=None,
    help="ServiceAccount of the pods the operator creates (default: the namespace's default).",
)
@click.option(
    "--leader-election/--no-leader-election",
    envvar="TRODDEN_LEADER_ELECTION",
    default=False,
    show_default=True,
    help="Lead through a Lease, so several replicas run with one active (the chart turns it on).",
)
@click.option(
    "--leader-election-lease",
    envvar="TRODDEN_LEADER_ELECTION_LEASE",
    default=None,
    help="The Lease as NAMESPACE/NAME (default: $POD_NAMESPACE/trodden-operator, else default/trodden-operator).",
)
@click.option(
    "--http-port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Flagger webhook and /metrics."
)
@click.option(
    "--health-port", type=click.IntRange(1, 65535), default=8081, show_default=True, help="Liveness endpoint /healthz."
)
@click.option(
    "--finished-job-ttl",
    type=click.IntRange(0, 7 * 86400),
    default=3600,
    show_default=True,
    help="Seconds a finished Job is kept once its result is in its owner's status.",
)
@click.option(
    "--deleted-retention",
    default="7d",
    show_default=True,
    callback=_duration,
    help="How long the stored data of a deleted resource is kept (tombstoned) before it is removed.",
)
@click.option(
    "--sweep-interval",
    type=click.FloatRange(1, 86400),
    default=300,
    show_default=True,
    help="Seconds between sweeps for the data of deleted resources.",
)
def operator(
    *,
    dsn: str | None,
    namespaces: tuple[str, ...],
    image: str,
    image_pull_policy: str,
    pod_service_account: str | None,
    leader_election: bool,
    leader_election_lease: str | None,
    http_port: int,
    health_port: int,
    finished_job_ttl: int,
    deleted_retention: timedelta,
    sweep_interval: float,
) -> None:
    """Run the operator: reconcile RumSource, SessionSelector, TestSuite and ReplayRun."""
    lease = leader_election_lease or f"{os.environ.get('POD_NAMESPACE') or 'default'}/trodden-operator"
    if lease.count("/") != 1 or not all(lease.split("/")):
        raise InputError(f"--leader-election-lease {lease!r} is not NAMESPACE/NAME")
    dsn = dsn or os.environ.get("TRODDEN_DSN")
    if not dsn:
        get_logger(__name__).warning("no DSN (--dsn / TRODDEN_DSN): pods get none, status shows no results")
    elif os.environ.get("TRODDEN_DB_PASSWORD"):
        dsn = dsn_with_password(dsn, os.environ["TRODDEN_DB_PASSWORD"])
    runtime = Runtime(
        image=image,
        image_pull_policy=image_pull_policy,
        service_account=pod_service_account,
        finished_job_ttl=finished_job_ttl,
    )
    identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    run(
        _operate(
            OperatorOptions(
                dsn,
                namespaces,
                runtime,
                leader_election,
                lease,
                identity,
                http_port,
                health_port,
                deleted_retention,
                sweep_interval,
            )
        )
    )


async def _health(port: int) -> web.AppRunner:
    """`GET /healthz`: the event loop answers (on standby as when leading)."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner


async def _operate(opts: OperatorOptions) -> None:
    import kopf

    from trodden.operator import handlers, leader, reconcile, resync, webhook
    from trodden.operator.kube import Kube

    kube = Kube()
    ctx = reconcile.Context(kube=kube, runtime=opts.runtime, dsn=opts.dsn)
    authorize = ctx.webhook_token_matches if opts.dsn else None
    runners = [await webhook.start(kube, opts.http_port, authorize=authorize), await _health(opts.health_port)]
    namespace, _, name = opts.lease.partition("/")
    elector = leader.LeaderElector(kube.client, namespace, name, opts.identity) if opts.leader_election else None
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    try:
        if elector is not None:
            await elector.acquire()
        tasks = [
            asyncio.create_task(
                kopf.operator(
                    clusterwide=not opts.namespaces,
                    namespaces=list(opts.namespaces),
                    standalone=True,
                    memo=kopf.Memo(ctx=ctx),
                    stop_flag=stop,
                )
            ),
            asyncio.create_task(
                resync.run(kube, opts.namespaces, handlers.periodic_reconcile(ctx), handlers.periodic_wanted(ctx))
            ),
            asyncio.create_task(
                resync.sweep_forever(
                    opts.namespaces,
                    lambda: _tenant_namespaces(ctx),
                    lambda ns: reconcile.sweep_namespace(ctx, ns, opts.deleted_retention),
                    opts.sweep_interval,
                )
            ),
        ]
        if elector is not None:
            tasks.append(asyncio.create_task(elector.hold()))
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a lost Lease (LeadershipLost) or a crash ends the process
    finally:
        stop.set()
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if elector is not None:
            await elector.release()
        for runner in runners:
            await runner.cleanup()
        await ctx.close()
        await kube.close()
        await asyncio.sleep(0)


async def _tenant_namespaces(ctx: Any) -> list[str]:
    tenants = await ctx.tenancy()
    return await tenants.namespaces() if tenants is not None else []
