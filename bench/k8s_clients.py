"""lightkube against kubernetes_asyncio (the official client's API, asyncio) on what the operator does.

Not part of the project's dependencies: run it in a scratch venv that has both clients,

    python3 -m venv /tmp/k8sclients && /tmp/k8sclients/bin/pip install lightkube kubernetes_asyncio pyyaml
    /tmp/k8sclients/bin/python bench/k8s_clients.py          # KUBECONFIG, or a local control plane

For each client, in its own process (so import cost and memory are its own): the import, then
200 server-side applies of a Job manifest as the operator builds it (create, then again unchanged),
200 GETs of those Jobs, and 200 merge patches of a custom resource's status subresource; CPU time
of the client process per call, wall time, and peak RSS. Both talk to the same API server in the
same run, one after the other, twice, alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from localkube import cluster

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import asyncio, json, resource, sys, time
t0 = time.process_time(); w0 = time.perf_counter()
CLIENT, NS, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
if CLIENT == "lightkube":
    from lightkube import AsyncClient
    from lightkube.codecs import from_dict
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.resources.batch_v1 import Job
    from lightkube.types import PatchType
else:
    from kubernetes_asyncio import client as kc, config as kconf
imported = (time.process_time() - t0, time.perf_counter() - w0)

def job(i):
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"j{i}", "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "bench"}},
            "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "localhost/none:1", "args": ["replay", "--suite", "s", "--shard", "0/1"],
                 "env": [{"name": f"E{k}", "value": "v" * 20} for k in range(8)],
                 "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}}}]}}}}

async def main():
    timings = {}
    if CLIENT == "lightkube":
        client = AsyncClient(field_manager="bench")
        RR = create_namespaced_resource("trodden.dev", "v1alpha1", "ReplayRun", "replayruns")
        async def apply(i): await client.apply(from_dict(job(i)), field_manager="bench", force=True)
        async def get(i): await client.get(Job, f"j{i}", namespace=NS)
        async def status(i): await client.patch(RR.Status, "rr", {"status": {"passed": i}}, namespace=NS,
                                                patch_type=PatchType.MERGE)
        close = client.close
    else:
        await kconf.load_kube_config()
        api = kc.ApiClient()
        batch, custom = kc.BatchV1Api(api), kc.CustomObjectsApi(api)
        async def apply(i): await batch.patch_namespaced_job(f"j{i}", NS, job(i), field_manager="bench",
                                                             force=True, _content_type="application/apply-patch+yaml")
        async def get(i): await batch.read_namespaced_job(f"j{i}", NS)
        async def status(i): await custom.patch_namespaced_custom_object_status(
            "trodden.dev", "v1alpha1", NS, "replayruns", "rr", {"status": {"passed": i}},
            _content_type="application/merge-patch+json")
        close = api.close
    for name, call in (("apply (create)", apply), ("apply (unchanged)", apply), ("get", get),
                       ("status merge patch", status)):
        c0, w = time.process_time(), time.perf_counter()
        for i in range(N):
            await call(i)
        timings[name] = ((time.process_time() - c0) / N * 1000, (time.perf_counter() - w) / N * 1000)
    await close()
    print(json.dumps({"import": imported, "calls": timings,
                      "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

asyncio.run(main())
"""


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=300,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with cluster("trodden-k8sclients-") as kubeconfig:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
        kubectl(kubeconfig, "wait", "--for=condition=Established", "crd/replayruns.trodden.dev")
        results: dict[str, list[dict[str, object]]] = {"lightkube": [], "kubernetes_asyncio": []}
        for _ in range(args.rounds):
            for name, rounds in results.items():
                ns = f"bench-{name.replace('_', '-')}-{uuid.uuid4().hex[:5]}"
                kubectl(kubeconfig, "create", "namespace", ns)
                rr = {
                    "apiVersion": "trodden.dev/v1alpha1",
                    "kind": "ReplayRun",
                    "metadata": {"name": "rr"},
                    "spec": {"suite": "s", "target": {"url": "http://t"}},
                }
                kubectl(kubeconfig, "apply", f"--namespace={ns}", "-f", "-", stdin=json.dumps(rr))
                done = subprocess.run(
                    [sys.executable, "-P", "-c", WORKER, name, ns, str(args.count)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=900,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{name}: {done.stderr[-2000:]}")
                out = done.stdout
                rounds.append(json.loads(out.strip().splitlines()[-1]))
                kubectl(kubeconfig, "delete", "namespace", ns, "--wait=false")
    print(f"{args.count} calls each, {args.rounds} rounds alternating; per call: client CPU ms / wall ms (best round)")
    for name, rounds in results.items():
        imp = min(r["import"][0] for r in rounds)  # type: ignore[index]
        rss = min(r["rss_mib"] for r in rounds)  # type: ignore[type-var]
        print(f"{name}: import {imp * 1000:.0f} ms CPU, peak RSS {rss:.0f} MiB")
        for call in rounds[0]["calls"]:  # type: ignore[union-attr]
            cpu = min(r["calls"][call][0] for r in rounds)  # type: ignore[index]
            wall = min(r["calls"][call][1] for r in rounds)  # type: ignore[index]
            print(f"  {call:20} {cpu:6.2f} / {wall:6.2f}")


if __name__ == "__main__":
    main()
