"""The Kubernetes API the operator benchmarks talk to: `KUBECONFIG` when set, else a local control
plane (no node) started from `tests/e2e/cluster` for the duration of the block."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def cluster(prefix: str = "trodden-bench-") -> Iterator[Path]:
    """The kubeconfig of the cluster to use."""
    given = os.environ.get("KUBECONFIG")
    if given:
        yield Path(given)
        return
    sys.path.insert(0, str(ROOT / "tests" / "e2e" / "cluster"))
    import localcluster

    with localcluster.running_cluster(Path(tempfile.mkdtemp(prefix=prefix))) as c:
        yield c.kubeconfig
