"""The one store: PostgreSQL through asyncpg.

`open_store(dsn)` gives a `Store` with a connection pool and the schema migrated. No DSN (flag or
`TRODDEN_DSN`) means the embedded PostgreSQL under `$TRODDEN_HOME`.

Tenancy: in a cluster each namespace's data is a PostgreSQL schema of its own (`tenant_schema`),
owned by a role of its own whose `search_path` is that schema, so the pods of a namespace, whose
DSN names that role, read and write only there, with the same unqualified SQL as everywhere. The
CLI outside Kubernetes uses the DSN's default schema (`public`); `TRODDEN_NAMESPACE` points it at
a namespace's schema instead (an operator's admin DSN looking into one tenant).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import asyncpg
import orjson

from trodden.log import get_logger
from trodden.settings import Settings

log = get_logger(__name__)

# Any constant works; it only has to be the same for every process migrating the same database. The
# lock is taken per schema (its second key), so one tenant's migrations never wait for another's.
_MIGRATION_LOCK = 0x7472_6F64  # "trod"
_IDENT_MAX = 63  # PostgreSQL truncates longer identifiers


def pg_identifier(*parts: str) -> str:
    """A lowercase PostgreSQL identifier from `parts` joined by `_` (each character outside
    [a-z0-9_] becomes `_`, so distinct Kubernetes names stay distinct), at most 63 bytes: longer
    ones keep a readable head and end in a hash of the whole."""
    text = re.sub(r"[^a-z0-9_]", "_", "_".join(parts).lower())
    if len(text) <= _IDENT_MAX:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: _IDENT_MAX - 11].rstrip('_')}_{digest}"


def tenant_schema(namespace: str) -> str:
    """The schema holding a Kubernetes namespace's data."""
    return pg_identifier("ns", namespace)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


def resolve_dsn(dsn: str | None = None) -> str:
    """The DSN to use: the one given, `TRODDEN_DSN`, or the embedded server (started on demand)."""
    settings = Settings.from_env(dsn)
    if settings.dsn:
        return settings.dsn
    from trodden.store.embedded import embedded_dsn

    return embedded_dsn(settings.home)


def migrations() -> list[tuple[str, str]]:
    """(version, sql) for every migration shipped in the package, in order."""
    folder = resources.files("trodden.store") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]


async def migrate(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> list[str]:
    """Apply the migrations not yet applied, in order, under an advisory lock (replicas race)."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1, hashtext(current_schema()))", _MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in migrations():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            log.info("migration applied", version=version)
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, hashtext(current_schema()))", _MIGRATION_LOCK)
    return applied_now


class Store:
    """A pool on the Trodden database. Components put their queries in their own modules and use
    `store.pool`; what several components need lives here."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self.pool = pool
        self.dsn = dsn

    @classmethod
    async def open(
        cls,
        dsn: str | None = None,
        *,
        min_size: int = 1,
        max_size: int = 10,
        run_migrations: bool = True,
        namespace: str | None = None,
        idle_seconds: float = 300.0,
    ) -> Store:
        """A pool on the database (connections idle for `idle_seconds` are closed). `namespace`
        (default `$TRODDEN_NAMESPACE`) reads and writes that namespace's schema, which must exist;
        it is not migrated from here (its own role migrates it, as the owner of its tables)."""
        resolved = resolve_dsn(dsn)
        namespace = namespace or os.environ.get("TRODDEN_NAMESPACE") or None
        settings = {"search_path": tenant_schema(namespace)} if namespace else None
        pool = await asyncpg.create_pool(
            resolved,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            server_settings=settings,
            max_inactive_connection_lifetime=idle_seconds,
        )
        assert pool is not None
        store = cls(pool, resolved)
        if namespace:
            if not await pool.fetchval("SELECT to_regnamespace($1) IS NOT NULL", tenant_schema(namespace)):
                await pool.close()
                from trodden.cliutil import InputError

                raise InputError(
                    f"namespace {namespace!r} has no data in this database (no schema "
                    f"{tenant_schema(namespace)}; the operator creates it for a namespace it serves)"
                )
        elif run_migrations:
            async with pool.acquire() as conn:
                await migrate(conn)
        return store

    async def close(self) -> None:
        await self.pool.close()

    async def source_key(self, source: str) -> bytes:
        """The per-source HMAC key for pseudonyms, created on first use."""
        key: bytes | None = await self.pool.fetchval(
            "INSERT INTO sources (name, pseudonym_key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
            " RETURNING pseudonym_key",
            source,
            secrets.token_bytes(32),
        )
        if key is None:
            key = await self.pool.fetchval("SELECT pseudonym_key FROM sources WHERE name = $1", source)
        assert key is not None
        return bytes(key)


@contextlib.asynccontextmanager
async def open_store(dsn: str | None = None, **kwargs: Any) -> AsyncIterator[Store]:
    store = await Store.open(dsn, **kwargs)
    try:
        yield store
    finally:
        await store.close()
