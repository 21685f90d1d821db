"""A Kinto include (`kinto.includes = realapps_kinto_backports`) for the kinto-admin harness's Kinto
20.6.1 (the last wheel that bundles kinto-admin): the memory backend's fix that later Kinto made,
applied on every deployment alike (production, baselines, control, target).

Kinto 20.6.1's `memory.Storage.purge_deleted` does `del self._timestamps[pid][resource_name]`, a
`KeyError` when the resource has no timestamp. Its heartbeat purges `__heartbeat__` in 60 % of
calls (`_HEARTBEAT_DELETE_RATE`), so once a purge ran, every later purging heartbeat fails until a
creating one runs: `GET /v1/__heartbeat__` answered 503 to about one call in four, at random, on
every deployment (the recording had 6 in 26; asking again 0.5 s later is 503 with 60 %). Later
Kinto (26.5.0, in this harness too) pops the timestamp (`.pop(resource_name, None)`). The memory
backend is Kinto's one for development; a real deployment's PostgreSQL backend has no such path.
"""

from __future__ import annotations

import re
from typing import Any

from kinto.core.storage import memory


def includeme(config: Any) -> None:
    original = memory.Storage.purge_deleted
    if getattr(original, "realapps_backport", False):
        return

    def purge_deleted(self: Any, *args: Any, **kwargs: Any) -> Any:
        resource_name = kwargs.get("resource_name", kwargs.get("collection_id", args[0] if args else None))
        parent_id = kwargs.get("parent_id", args[1] if len(args) > 1 else None)
        if resource_name is not None and isinstance(parent_id, str):
            pattern = re.compile(parent_id.replace("*", ".*"))
            for pid, resources in list(self._timestamps.items()):
                if pattern.match(pid):
                    resources.setdefault(resource_name, 0)  # then deleted by the original: 26.5.0's pop
        return original(self, *args, **kwargs)

    purge_deleted.realapps_backport = True  # type: ignore[attr-defined]
    memory.Storage.purge_deleted = purge_deleted
