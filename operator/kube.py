"""The operator's Kubernetes calls, through lightkube's async client (never blocking the loop).

Objects travel as plain dicts (what the pure builders produce and the pure condition functions
read); this module converts at the edge. Writes of owned objects are server-side apply with the
fixed field manager, so applying an unchanged manifest is a no-op on the server.
"""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.codecs import from_dict
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from trodden.operator.builders import FIELD_MANAGER
from trodden.operator.specs import GROUP, KINDS, VERSION

CUSTOM = {k.kind: create_namespaced_resource(GROUP, VERSION, k.kind, k.plural) for k in KINDS}


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

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        obj = from_dict(manifest)
        applied = await self.client.apply(obj, field_manager=FIELD_MANAGER, force=True)  # type: ignore[call-overload]
        return _as_dict(applied)

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            obj = await self.client.get(_resource_class(api_version, kind), name, namespace=namespace)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise
        return _as_dict(obj)

    async def list(self, api_version: str, kind: str, namespace: str, labels: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async for obj in self.client.list(_resource_class(api_version, kind), namespace=namespace, labels=dict(labels)):
            out.append(_as_dict(obj))
        return out

    async def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        try:
            await self.client.delete(_resource_class(api_version, kind), name, namespace=namespace)
        except ApiError as err:
            if err.status.code != 404:
                raise

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
