"""The project's own image (root Dockerfile) on a real node: a Job completes, the shop serves HTTP.

The image is built with podman on the locally debootstrapped base and imported into the node's
containerd by the ``project_image`` fixture (on kind: ``TRODDEN_E2E_PROJECT_IMAGE``). The cache
key test needs no cluster and never skips.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import projectimage
import pytest
from e2ekube import Kube
from httpwait import answers


def _job(name: str, image: str, args: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    # The image's entry point is `tini -- trodden`: args are the CLI's.
                    "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent", "args": args}],
                }
            },
        },
    }


@pytest.mark.usefixtures("running_node")
def test_a_job_running_the_project_image_completes(kube: Kube, namespace: str, project_image: str) -> None:
    kube.apply(
        _job("version", project_image, ["--version"]),
        _job("schema", project_image, ["schema", "events"]),
        namespace=namespace,
    )
    for job in ("version", "schema"):
        kube.run(
            "wait", "--for=condition=Complete", f"job/{job}", f"--namespace={namespace}", "--timeout=180s", timeout=200
        )
    assert kube.run("logs", "job/version", f"--namespace={namespace}").stdout.strip() == "trodden, version 0.1.0"
    schema = json.loads(kube.run("logs", "job/schema", f"--namespace={namespace}").stdout)
    assert {"PageView", "NetworkRequest", "Span"} <= set(schema["$defs"]), list(schema["$defs"])


RENDER_IN_CHROMIUM = """
import asyncio
from playwright.async_api import async_playwright
from trodden.browser import launch_chromium

async def main():
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        page = await browser.new_page()
        await page.set_content("<p id='x'></p><script>document.getElementById('x').textContent = 6 * 7</script>")
        print("rendered", await page.text_content("#x"), browser.version)
        await browser.close()

asyncio.run(main())
"""


@pytest.mark.usefixtures("running_node")
def test_chromium_in_the_project_image_runs_a_page_in_a_pod(kube: Kube, namespace: str, project_image: str) -> None:
    """What browser replay pods need: Playwright drives the image's Debian Chromium as the image's user."""
    job = _job("chromium", project_image, [])
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["python3", "-c", RENDER_IN_CHROMIUM]
    kube.apply(job, namespace=namespace)
    # Complete or Failed, whichever comes first (backoffLimit 0: one pod).
    status = kube.wait_for(
        "the Chromium Job to finish",
        lambda: (
            (st := kube.get("job", "chromium", namespace=namespace).get("status") or {}).get("succeeded")
            or st.get("failed")
        ),
        timeout=180,
    )
    logs = kube.run("logs", "job/chromium", f"--namespace={namespace}", check=False)
    assert logs.stdout.startswith("rendered 42 "), f"{status}\n{logs.stdout[-2000:]}{logs.stderr[-1000:]}"


@pytest.mark.usefixtures("running_node")
def test_the_shop_from_the_project_image_serves_through_its_service(
    kube: Kube, namespace: str, project_image: str
) -> None:
    container = {
        "name": "shop",
        "image": project_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-m", "trodden.shop", "--version", "2", "--host", "0.0.0.0", "--port", "8080"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {"metadata": {"labels": {"app": "shop"}}, "spec": {"containers": [container]}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "shop"},
        "spec": {"selector": {"app": "shop"}, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
    }
    kube.apply(deployment, service, namespace=namespace)
    kube.run("rollout", "status", "deployment/shop", f"--namespace={namespace}", "--timeout=180s", timeout=200)

    # Through the API server's service proxy (Service → endpoints → the pod)...
    health = json.loads(
        kube.run("get", "--raw", f"/api/v1/namespaces/{namespace}/services/shop:8080/proxy/healthz").stdout
    )
    assert health == {"status": "ok", "version": 2}
    # ...and from this machine through the Service's ClusterIP, as the loop test's users do. kube-proxy
    # writes the Service's iptables rules a moment after its endpoints are ready: wait for them.
    cluster_ip = kube.get("service", "shop", namespace=namespace)["spec"]["clusterIP"]
    kube.wait_for("kube-proxy's rules for the Service", lambda: answers(f"http://{cluster_ip}:8080/healthz"))
    with urllib.request.urlopen(f"http://{cluster_ip}:8080/api/products?q=shoe", timeout=20) as resp:
        products = json.loads(resp.read())
    assert resp.status == 200
    assert products, products


def test_image_cache_key_follows_the_inputs_content(tmp_path: Path) -> None:
    """Rebuilt when a source, the Dockerfile or pyproject changes; not for caches or unrelated files."""
    for name in projectimage.INPUT_FILES:
        (tmp_path / name).write_text(f"{name}\n")
    for folder in projectimage.INPUT_DIRS:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "__init__.py").write_text("x = 1\n")
    first = projectimage.inputs_digest(tmp_path)
    assert projectimage.inputs_digest(tmp_path) == first

    (tmp_path / "collector" / "__pycache__").mkdir()
    (tmp_path / "collector" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("not in the image\n")
    assert projectimage.inputs_digest(tmp_path) == first

    (tmp_path / "replay-runner" / "__init__.py").write_text("x = 2\n")
    changed_source = projectimage.inputs_digest(tmp_path)
    assert changed_source != first
    (tmp_path / "Dockerfile").write_text("FROM other\n")
    assert projectimage.inputs_digest(tmp_path) != changed_source
    # A moved file is a different input even with the same bytes.
    (tmp_path / "examples/shop/__init__.py").rename(tmp_path / "examples/shop/moved.py")
    assert projectimage.inputs_digest(tmp_path) != changed_source
