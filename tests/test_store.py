"""The store: migrations apply in order and once, the embedded server is real, keys are stable."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from trodden.collector.partitions import ensure_partition
from trodden.store import Store, migrate, migrations


def test_migrations_are_ordered_and_numbered() -> None:
    versions = [v for v, _ in migrations()]
    assert versions == sorted(versions)
    assert versions[0].startswith("0001_")
    assert all(v[:4].isdigit() for v in versions)


async def test_migrate_is_idempotent(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        assert await migrate(conn) == []  # the fixture already applied everything
        applied = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert applied == len(migrations())
        assert await conn.fetchval("SELECT to_regclass('events') IS NOT NULL")
    finally:
        await conn.close()


async def test_source_key_is_created_once_and_reused(store: Store) -> None:
    first = await store.source_key("shop")
    again = await store.source_key("shop")
    other = await store.source_key("blog")
    assert first == again
    assert len(first) == 32
    assert other != first


async def test_jsonb_round_trips_through_orjson(store: Store) -> None:
    await store.pool.execute(
        "INSERT INTO selections (source, params) VALUES ($1, $2)", "shop", {"strategies": ["frequent:5"], "max": 10}
    )
    params = await store.pool.fetchval("SELECT params FROM selections WHERE source = 'shop'")
    assert params == {"strategies": ["frequent:5"], "max": 10}


async def test_inserting_events_keeps_their_sessions(store: Store) -> None:
    """The trigger on `events` (migration 0003) keeps session counters, timestamps and user for
    whatever inserts events, counts only rows actually inserted, and links spans that came first."""
    pool = store.pool
    await pool.execute(
        "INSERT INTO spans (source, trace_id, span_id, name, start_ts, duration_ms)"
        " VALUES ('p', 't1', 'x', 'GET', now(), 1)"
    )
    insert = (
        "INSERT INTO events (source, session_id, seq, ts, kind, trace_id, data, user_id)"
        " SELECT 'p', 's', seq, to_timestamp(1700000000 + seq), 'click', $2, '{}', $3 FROM unnest($1::int[]) AS seq"
        " ON CONFLICT DO NOTHING"
    )
    async with pool.acquire() as conn:  # the first day in a partition of its own, the later one not
        await ensure_partition(conn, date(2023, 11, 14))
    await pool.execute(insert, [0, 1, 2], "t1", None)
    # A retry overlapping new rows, from a user who logged in meanwhile, and a row three days later.
    await pool.execute(insert, [1, 2, 3, 86_400 * 3], None, "u-7")
    assert await pool.fetchval("SELECT count(*) FROM events_20231114") == 4
    session = await pool.fetchrow("SELECT * FROM sessions WHERE source = 'p' AND session_id = 's'")
    assert session["event_count"] == 5
    first, last = session["first_ts"].timestamp(), session["last_ts"].timestamp()
    assert (first, last) == (1_700_000_000, 1_700_000_000 + 86_400 * 3)
    assert session["user_id"] == "u-7"
    await pool.execute(insert, [4], None, None)  # an anonymous batch later keeps the user
    assert await pool.fetchval("SELECT user_id FROM sessions WHERE session_id = 's'") == "u-7"
    assert await pool.fetchval("SELECT session_id FROM spans WHERE trace_id = 't1'") == "s"
    async with pool.acquire() as conn:  # moving rows out of the default partition is not inserting them
        await ensure_partition(conn, date(2023, 11, 17))
    assert await pool.fetchval("SELECT count(*) FROM events_20231117") == 1
    assert await pool.fetchval("SELECT event_count FROM sessions WHERE session_id = 's'") == 6


@pytest.mark.skipif(os.geteuid() != 0, reason="the relocation is what root does; other users run the server themselves")
def test_embedded_postgres_as_root_changes_no_permission_outside_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A home under a private folder (0700, like /root): the data goes where the server's user can
    reach it, `home/pgdata` links there, and no folder's mode changes."""
    from trodden.store import embedded

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    home = private / "home"
    shared = Path(tempfile.mkdtemp(prefix="trodden-rootdata-"))
    shared.chmod(0o755)
    monkeypatch.setattr(embedded, "ROOT_DATA_DIR", shared / "lib")
    folders = [home.parent, *home.parent.parents]
    before = {f: f.stat().st_mode for f in folders}
    try:
        dsn = embedded.embedded_dsn(home)
        assert (home / "pgdata").is_symlink()
        assert (home / "pgdata").resolve().parent == shared / "lib"

        async def ask() -> int:
            conn = await asyncpg.connect(dsn)
            try:
                return int(await conn.fetchval("SELECT 1"))
            finally:
                await conn.close()

        assert asyncio.run(ask()) == 1
        assert {f: f.stat().st_mode for f in folders} == before
        # the same home finds the same data again
        assert embedded.data_directory(home) == (home / "pgdata").resolve()
    finally:
        embedded.stop_embedded(home)
        shutil.rmtree(shared, ignore_errors=True)


def test_data_directory_refuses_an_unreachable_existing_folder(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "home" / "pgdata").mkdir(parents=True)
    from trodden.store.embedded import data_directory

    with pytest.raises(PermissionError, match="not reachable"):
        data_directory(private / "home", root=True)
    assert private.stat().st_mode & 0o777 == 0o700
