"""`trodden gate`: create a ReplayRun and wait for its verdict; the exit code is the gate.

For rollout tools that gate on a process (an Argo Rollouts `job` metric, a CI step, any Job):
exit 0 when the ReplayRun Succeeded, 1 when it Failed (regressions, a failed replay, nothing
replayed) or no verdict came in time, 2 for a bad manifest or call. The run is *created*, never
applied: give `metadata.generateName` and every attempt (a retried analysis, a rollback) replays
afresh instead of finding an earlier attempt's verdict under the same name.

The manifest is a ReplayRun as YAML or JSON (`--replayrun TEXT`, `-f FILE`, `-f -` for stdin); its
spec is checked against the CRD's model before anything is sent. The namespace is the manifest's,
else `--namespace`, else the pod's own (in a cluster) or the kubeconfig's.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml
from lightkube import ApiError, AsyncClient
from lightkube.core.exceptions import ConfigError
from pydantic import ValidationError

from trodden.cliutil import InputError, run
from trodden.operator.kube import CUSTOM
from trodden.operator.specs import API_VERSION, DNS_LABEL, ReplayRunSpec

VERDICTS = ("Succeeded", "Failed")


def parse_manifest(text: str, namespace: str | None) -> dict[str, Any]:
    """The ReplayRun to create, checked (InputError names what is wrong)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"the ReplayRun is not YAML: {err}") from err
    if not isinstance(doc, dict) or doc.get("kind") != "ReplayRun" or doc.get("apiVersion") != API_VERSION:
        got = doc.get("kind") or "no kind" if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"expected a ReplayRun ({API_VERSION}), got {got}")
    meta = doc.setdefault("metadata", {})
    if not (meta.get("generateName") or meta.get("name")):
        raise InputError("give metadata.generateName (a fresh ReplayRun per attempt) or metadata.name")
    try:
        ReplayRunSpec.model_validate(doc.get("spec") or {})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"spec.{where}: {first['msg']}") from err
    ns = meta.get("namespace") or namespace
    if ns:
        if not re.fullmatch(DNS_LABEL, ns):
            raise InputError(f"namespace {ns!r} is not a valid name")
        meta["namespace"] = ns
    return dict(doc)


def verdict(run: dict[str, Any]) -> str | None:
    """ "Succeeded" or "Failed" once one of those conditions is True, else None."""
    for cond in (run.get("status") or {}).get("conditions") or []:
        if cond.get("type") in VERDICTS and cond.get("status") == "True":
            return str(cond["type"])
    return None


def progress(run: dict[str, Any]) -> str:
    st = run.get("status") or {}
    counts = f"{st.get('passed') or 0} passed, {st.get('failed') or 0} failed, {st.get('flaky') or 0} flaky"
    of_total = f" of {st['total']}" if st.get("total") else ""
    return f"{st.get('phase') or 'Pending'} ({counts}{of_total})"


def explain(run: dict[str, Any], outcome: str) -> list[str]:
    """What to print at the end: the verdict's reason and the top regressions."""
    st = run.get("status") or {}
    cond: dict[str, Any] = next((c for c in st.get("conditions") or [] if c.get("type") == outcome), {})
    lines = [f"{outcome}: {cond.get('reason', '')}: {cond.get('message', '')} ({progress(run)})"]
    for reg in st.get("regressions") or []:
        lines.append(
            f"  regression {reg.get('test')} {reg.get('step', '')}: {reg.get('assertion', '')}"
            f" expected {reg.get('expected', '')!r}, got {reg.get('actual', '')!r}"
        )
    return lines


async def _gate(doc: dict[str, Any], wait_seconds: float, poll: float) -> int:
    try:
        client = AsyncClient(field_manager="trodden-gate")
    except ConfigError as err:
        raise InputError(f"no Kubernetes configuration (in-cluster or KUBECONFIG): {err}") from err
    resource = CUSTOM["ReplayRun"]
    try:
        try:
            created: Any = await client.create(  # type: ignore[call-overload]
                resource.from_dict(doc), namespace=doc["metadata"].get("namespace")
            )
        except ApiError as err:
            if err.status.code == 409:
                raise InputError(
                    f"ReplayRun {doc['metadata'].get('name')} exists: use metadata.generateName so"
                    " each attempt replays afresh"
                ) from err
            if err.status.code in (400, 422):
                raise InputError(f"the API refused the ReplayRun: {err.status.message}") from err
            raise
        name, namespace = created.metadata.name, created.metadata.namespace
        click.echo(f"replayrun {namespace}/{name} created (suite {doc['spec']['suite']})")
        deadline = time.monotonic() + wait_seconds
        last = ""
        while True:
            found: Any = await client.get(resource, name, namespace=namespace)
            run_now: dict[str, Any] = found.to_dict()
            outcome = verdict(run_now)
            if outcome is not None:
                for line in explain(run_now, outcome):
                    click.echo(line)
                return 0 if outcome == "Succeeded" else 1
            if progress(run_now) != last:
                last = progress(run_now)
                click.echo(f"replayrun {name}: {last}")
            if time.monotonic() > deadline:
                click.echo(
                    f"no verdict from replayrun {namespace}/{name} within {wait_seconds:.0f}s: the gate fails", err=True
                )
                return 1
            await asyncio.sleep(poll)
    finally:
        await client.close()


def _duration(value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(value[:-1]) * units[value[-1]] if value[-1] in units else float(value)
    except (ValueError, IndexError) as err:
        raise click.BadParameter(f"{value!r} is not a duration such as 90s, 25m or 1h") from err


@click.command()
@click.option("--replayrun", "text", default=None, help="The ReplayRun manifest (YAML or JSON).")
@click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="Read the manifest from a file (- for stdin).",
)
@click.option("-n", "--namespace", default=None, help="Namespace when the manifest names none.")
@click.option("--timeout", default="30m", show_default=True, help="Give up (exit 1) after this long: 90s, 25m, 1h.")
@click.option("--poll", default=2.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between reads.")
def gate(text: str | None, path: str | None, namespace: str | None, timeout: str, poll: float) -> None:
    """Create a ReplayRun and wait for its verdict: exit 0 Succeeded, 1 Failed or no verdict in time."""
    if (text is None) == (path is None):
        raise InputError("give the ReplayRun with --replayrun TEXT or -f FILE (one of them)")
    if path is not None:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    assert text is not None
    if namespace is None:
        in_cluster = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        namespace = in_cluster.read_text().strip() if in_cluster.exists() else None
    doc = parse_manifest(text, namespace)
    sys.exit(run(_gate(doc, _duration(timeout), poll)))
