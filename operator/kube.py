"""The operator's Kubernetes calls, through lightkube's async client (never blocking the loop).

Objects travel as plain dicts (what the pure builders produce and the pure condition functions
read); this module converts at the edge. Writes of owned objects are server-side apply with the
fixed field manager, so applying an unchanged manifest is a no-op on the server.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.codecs import from_dict
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from trodden.operator.builders import FIELD_MANAGER
from trodden.operator.specs import GROUP, KINDS, VERSION

CUSTOM = {k.kind: create_namespaced_resource(GROUP, VERSION, k.kind, k.plural) for k in KINDS}
ALL_NAMESPACES = "*"
# An unchanged manifest is applied again after this long anyway, to undo edits made by others.
REAPPLY_SECONDS = 600.0


def _identity(manifest: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = manifest["metadata"]
    return manifest["apiVersion"], manifest["kind"], meta.get("namespace") or "", meta["name"]


def _digest(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    result: dict[str, Any] = obj.to_dict()
    return result


def _resource_class(api_version: str, kind: str) -> Any:
    if api_version == f"{GROUP}/{VERSION}":
        return CUSTOM[kind]
    return resource_registry.load(api_version, kind)


class Kube:
    """One lightkube AsyncClient for the process, with the calls the handlers make."""

    def __init__(self, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient(field_manager=FIELD_MANAGER)
        # What this process applied or created, so periodic reconciles do not write it again.
        self._applied: dict[tuple[str, str, str, str], tuple[str, float]] = {}
        self._created: set[tuple[str, str, str, str]] = set()

    async def ensure(self, manifest: dict[str, Any]) -> None:
        """Apply, unless this process applied the same manifest less than `REAPPLY_SECONDS` ago."""
        key, digest = _identity(manifest), _digest(manifest)
        seen = self._applied.get(key)
        if seen is not None and seen[0] == digest and time.monotonic() - seen[1] < REAPPLY_SECONDS:
            return
        await self.apply(manifest)
        self._applied[key] = (digest, time.monotonic())

    async def create_once(self, manifest: dict[str, Any]) -> None:
        """Create unless it exists (409) or this process created or found it before."""
        key = _identity(manifest)
        if key in self._created:
            return
        await self.create(manifest)
        self._created.add(key)

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        obj = from_dict(manifest)
        applied = await self.client.apply(obj, field_manager=FIELD_MANAGER, force=True)  # type: ignore[call-overload]
        return _as_dict(applied)

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        """The object, or None when it does not exist (`namespace` None for cluster-scoped kinds)."""
        try:
            obj = await self.client.get(_resource_class(api_version, kind), name, namespace=namespace)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise
        return _as_dict(obj)

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        labels: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Objects of a kind in `namespace` (`ALL_NAMESPACES` for every one), with kind and apiVersion
        set on each (list responses leave them out of the items)."""
        out: list[dict[str, Any]] = []
        async for obj in self.client.list(
            _resource_class(api_version, kind), namespace=namespace, labels=dict(labels or {})
        ):
            item = _as_dict(obj)
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            out.append(item)
        return out

    async def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        try:
            await self.client.delete(_resource_class(api_version, kind), name, namespace=namespace)
        except ApiError as err:
            if err.status.code != 404:
                raise

    async def patch(self, api_version: str, kind: str, name: str, namespace: str, body: dict[str, Any]) -> None:
        """Merge-patch an object (fields the server-side applied manifests do not set)."""
        await self.client.patch(
            _resource_class(api_version, kind), name, body, namespace=namespace, patch_type=PatchType.MERGE
        )

    async def patch_status(self, kind: str, name: str, namespace: str, status: dict[str, Any]) -> None:
        """Merge-patch the status subresource of one of our custom resources."""
        await self.client.patch(
            CUSTOM[kind].Status, name, {"status": status}, namespace=namespace, patch_type=PatchType.MERGE
        )

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        """Create; None when it already exists (for objects created once, like a generated key)."""
        try:
            return _as_dict(await self.client.create(from_dict(manifest)))  # type: ignore[call-overload]
        except ApiError as err:
            if err.status.code == 409:
                return None
            raise

    async def close(self) -> None:
        await self.client.close()
