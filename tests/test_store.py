"""The store: migrations apply in order and once, the embedded server is real, keys are stable."""

from __future__ import annotations

import asyncpg

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
