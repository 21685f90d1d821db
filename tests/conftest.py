"""Shared fixtures: a real PostgreSQL (the embedded server) for the whole test session, and a fresh
migrated database per test that asks for one."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from trodden.store import Store, migrate
from trodden.store.embedded import embedded_dsn, stop_embedded

os.environ.setdefault("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """A real PostgreSQL server for the session, in its own temporary $TRODDEN_HOME."""
    home = Path(tempfile.mkdtemp(prefix="trodden-test-"))
    home.chmod(0o755)  # as root the server's own user must reach it (trodden.store.embedded)
    dsn = embedded_dsn(home)
    yield dsn
    stop_embedded(home)
    shutil.rmtree(home, ignore_errors=True)  # ~40 MB a run


def _with_database(dsn: str, database: str) -> str:
    # Embedded DSNs look like postgresql://postgres:@/postgres?host=/socket/dir
    before, sep, after = dsn.partition("?")
    base = before.rsplit("/", 1)[0]
    return f"{base}/{database}{sep}{after}"


@pytest.fixture
async def dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    test_dsn = _with_database(pg_server_dsn, name)
    conn = await asyncpg.connect(test_dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield test_dsn
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[Store]:
    s = await Store.open(dsn)
    yield s
    await s.close()
