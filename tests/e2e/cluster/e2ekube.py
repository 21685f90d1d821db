"""A small kubectl wrapper for the e2e tests (works with any kubeconfig: kind, local, ...)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Kube:
    """A small kubectl wrapper bound to one kubeconfig: what the e2e tests need, no more."""

    def __init__(self, kubeconfig: Path, kubectl: str) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl_path = kubectl

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; on failure the error shows the command and its stderr."""
        cmd = [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def apply(self, *manifests: dict[str, Any], namespace: str | None = None) -> None:
        doc = {"apiVersion": "v1", "kind": "List", "items": list(manifests)}
        ns = [f"--namespace={namespace}"] if namespace else []
        self.run("apply", *ns, "-f", "-", stdin=json.dumps(doc))

    def get(self, kind: str, name: str | None = None, namespace: str | None = None, **selectors: str) -> Any:
        args = ["get", kind, *([name] if name else []), "-o", "json"]
        if namespace:
            args.append(f"--namespace={namespace}")
        if selectors:
            args.append("--selector=" + ",".join(f"{k}={v}" for k, v in selectors.items()))
        return json.loads(self.run(*args).stdout)

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.5) -> Any:
        """Poll until ``predicate()`` is truthy and return it; fail saying what was awaited."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def node_ready(kube: Kube) -> bool:
    """True when at least one node is Ready: pods can really run (stage 2, or kind)."""
    nodes = kube.get("nodes")["items"]
    return any(
        cond["type"] == "Ready" and cond["status"] == "True"
        for node in nodes
        for cond in node.get("status", {}).get("conditions", [])
    )
