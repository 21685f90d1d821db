"""`trodden crds` and `trodden operator`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import click

from trodden.cliutil import InputError, dsn_option, run
from trodden.log import get_logger

REPO_CRDS = Path("crds")
CHART_CRDS = Path("charts/trodden/crds")


@click.command()
@click.option("-o", "--output", "outputs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (repeatable; default: crds/ and charts/trodden/crds/).")
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


@click.command()
@dsn_option
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Watch only these namespaces (default: all).")
@click.option("--image", envvar="TRODDEN_IMAGE", default="trodden:latest", show_default=True,
              help="Image of the collector, job and replay pods [env TRODDEN_IMAGE].")
@click.option("--image-pull-policy", envvar="TRODDEN_IMAGE_PULL_POLICY", default="IfNotPresent", show_default=True,
              type=click.Choice(["Always", "IfNotPresent", "Never"]))
@click.option("--pod-service-account", envvar="TRODDEN_POD_SERVICE_ACCOUNT", default=None,
              help="ServiceAccount of the pods the operator creates (default: the namespace's default).")
@click.option("--peering", envvar="TRODDEN_PEERING", default=None,
              help="kopf peering name, for several replicas (default: standalone, one replica).")
@click.option("--priority", type=int, default=0, help="kopf peering priority of this replica.")
@click.option("--http-port", type=int, default=8080, show_default=True, help="Flagger webhook and /metrics.")
@click.option("--health-port", type=int, default=8081, show_default=True, help="Liveness endpoint /healthz.")
def operator(  # noqa: PLR0917  (one parameter per CLI option)
    dsn: str | None, namespaces: tuple[str, ...], image: str, image_pull_policy: str,
             pod_service_account: str | None, peering: str | None, priority: int, http_port: int,
             health_port: int) -> None:
    """Run the operator: reconcile RumSource, SessionSelector, TestSuite and ReplayRun."""
    for port in (http_port, health_port):
        if not 0 < port < 65536:
            raise InputError(f"port {port} is out of range")
    dsn = dsn or os.environ.get("TRODDEN_DSN")
    if not dsn:
        get_logger(__name__).warning("no DSN (--dsn / TRODDEN_DSN): pods get none, status shows no results")
    elif os.environ.get("TRODDEN_DB_PASSWORD"):
        dsn = dsn_with_password(dsn, os.environ["TRODDEN_DB_PASSWORD"])
    run(_operate(dsn, namespaces, image, image_pull_policy, pod_service_account, peering, priority, http_port,
                 health_port))


async def _operate(  # noqa: PLR0917
    dsn: str | None, namespaces: tuple[str, ...], image: str, pull: str, pod_sa: str | None,
                   peering: str | None, priority: int, http_port: int, health_port: int) -> None:
    import kopf

    import trodden.operator.handlers  # noqa: F401  (registers the handlers)
    from trodden.operator import webhook
    from trodden.operator.builders import Runtime
    from trodden.operator.kube import Kube
    from trodden.operator.reconcile import Context

    kube = Kube()
    ctx = Context(kube=kube, runtime=Runtime(image=image, image_pull_policy=pull, service_account=pod_sa), dsn=dsn)
    runner = await webhook.start(kube, http_port)
    memo: Any = kopf.Memo(ctx=ctx)
    try:
        await kopf.operator(
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            standalone=peering is None,
            peering_name=peering,
            priority=priority,
            liveness_endpoint=f"http://0.0.0.0:{health_port}/healthz",
            memo=memo,
        )
    finally:
        await runner.cleanup()
        if ctx.store is not None:
            await ctx.store.close()
        await kube.close()
        await asyncio.sleep(0)
