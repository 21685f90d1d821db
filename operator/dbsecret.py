"""`python -m trodden.operator.dbsecret NAME`: create the Secret NAME with a generated password, once.

The chart runs this as a hook Job when neither `postgres.password` nor `postgres.existingSecret` is
set. The password is generated in the cluster and never rendered by Helm, so `helm template` and
Argo CD renders (where `lookup` finds nothing) never replace it. A Secret that already exists is
left alone (the create answers 409): the database was initialised with that password.

The namespace is `$POD_NAMESPACE` (the downward API), else the pod's service-account namespace.
Exit 0 when the Secret exists afterwards; 2 with one line on bad input; 1 when the API refuses.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
KEY = "password"
LABELS = {"app.kubernetes.io/name": "trodden", "app.kubernetes.io/component": "database"}


def new_password() -> str:
    """32 URL-safe characters (192 bits); the operator URL-encodes it into the DSN anyway."""
    return secrets.token_urlsafe(24)


async def ensure(name: str, namespace: str, client: AsyncClient | None = None) -> bool:
    """Create the Secret with a new password unless it exists; True when this call created it."""
    client = client or AsyncClient(field_manager="trodden-db-password")
    secret = Secret(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=LABELS),
        type="Opaque",
        stringData={KEY: new_password()},
    )
    try:
        await client.create(secret)
    except ApiError as err:
        if err.status.code == 409:
            return False
        raise
    finally:
        await client.close()
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0]:
        print("usage: python -m trodden.operator.dbsecret SECRET-NAME", file=sys.stderr)
        return 2
    namespace = os.environ.get("POD_NAMESPACE") or (SA_NAMESPACE.read_text().strip() if SA_NAMESPACE.exists() else "")
    if not namespace:
        print("error: no namespace: set POD_NAMESPACE", file=sys.stderr)
        return 2
    try:
        created = asyncio.run(ensure(argv[0], namespace))
    except ApiError as err:
        print(f"error: creating Secret {namespace}/{argv[0]}: {err.status.message}", file=sys.stderr)
        return 1
    print(f"Secret {namespace}/{argv[0]} {'created with a new password' if created else 'exists: kept'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
