"""Tenancy: each namespace's data in a PostgreSQL schema of its own, reached with a role of its own.

The operator holds the one admin DSN. For every namespace it serves it provisions (once, under an
advisory lock, so replicas and restarts agree):

- a role `trodden_<hash of the database>_<namespace>` with a generated password, a connection
  limit, and `search_path` set to
- a schema `ns_<namespace>` owned by that role (migrated by the role itself, so it owns its tables
  and the collector may add partitions),
- a row in the operator's catalog (`tenants`, in the admin's own schema) keeping the password,
- a Secret `trodden-tenant-dsn` (key `dsn`) in the namespace with that role's DSN, which the pods the
  operator creates there reference. The operator may create Secrets, never read or change one.

The role can reach nothing outside its schema (no grants elsewhere; `public` gives no CREATE), so a
pod of one namespace cannot read another's data, and the SQL of every component stays unqualified.
The operator reads a namespace's results the same way: through a small pool that logs in as that
namespace's role. Why schemas and roles rather than a namespace column with row-level security:
docs/decisions.md ("Tenancy").

Identity and deletion (the `owners` table of each tenant schema):
- a TestSuite or SessionSelector claims its name with its uid when reconciled; a new uid under a
  known name (deleted and recreated) removes the old one's revisions or selections first, so
  nothing is inherited. A recreated RumSource keeps its source's sessions (they describe the
  application, not the object) and its pseudonym key.
- `sweep` compares what a namespace's schema holds with the resources that exist: data whose
  resource is gone is tombstoned, and removed once tombstoned for longer than the retention; a
  namespace that is gone, and whose data is all removed, loses its schema and role too.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from trodden.log import get_logger
from trodden.operator import builders
from trodden.store import Store, migrate, pg_identifier, tenant_schema

log = get_logger(__name__)

TENANCY_LOCK = 0x7472_6F66  # with hashtext(namespace): provisioning of one namespace at a time
CONNECTION_LIMIT = 50  # per tenant role: one namespace cannot take every connection of the server
KINDS = ("RumSource", "SessionSelector", "TestSuite", "ReplayRun")
SECRET_RECHECK_SECONDS = 60.0  # how long a created (or found) namespace Secret is taken to exist


def role_name(database: str, namespace: str) -> str:
    """The tenant's role. Roles are shared by every database of a server, so the name carries a
    hash of the database's."""
    return pg_identifier("trodden", hashlib.sha256(database.encode()).hexdigest()[:8], namespace)


def tenant_dsn(admin_dsn: str, role: str, password: str) -> str:
    """The admin DSN with the tenant's credentials instead (same host, port, database, options)."""
    parts = urlsplit(admin_dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("the operator's DSN must be a postgresql:// URL")
    hostport = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(role, safe='')}:{quote(password, safe='')}@{hostport}"))


def webhook_token(password: str, namespace: str) -> str:
    """The namespace's token for the Flagger webhook: derived from its role's password, so every
    replica computes the same one and it changes only with the tenant."""
    return hmac.new(password.encode(), f"trodden-webhook-token:{namespace}".encode(), hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True)
class Tenant:
    namespace: str
    schema: str
    role: str
    dsn: str
    webhook_token: str


@dataclass
class Tenants:
    """The tenants of one database: provisioning, their stores, their removal."""

    admin: Store
    connection_limit: int = CONNECTION_LIMIT
    _known: dict[str, Tenant] = field(default_factory=dict)
    _stores: dict[str, Store] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @classmethod
    async def open(cls, dsn: str) -> Tenants:
        """On the operator's admin DSN (its own schema migrated: the catalog lives there)."""
        return cls(await Store.open(dsn, min_size=1, max_size=4))

    async def close(self) -> None:
        for store in self._stores.values():
            await store.close()
        self._stores.clear()
        await self.admin.close()

    def _lock(self, namespace: str) -> asyncio.Lock:
        return self._locks.setdefault(namespace, asyncio.Lock())

    async def ensure(self, namespace: str) -> Tenant:
        """The namespace's role and schema, created when missing (idempotent, safe across replicas)."""
        known = self._known.get(namespace)
        if known is not None:
            return known
        async with self._lock(namespace):
            known = self._known.get(namespace)
            if known is None:
                known = await self._provision(namespace)
                await self._migrate(known)
                self._known[namespace] = known
        return known

    async def _provision(self, namespace: str) -> Tenant:
        async with self.admin.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", TENANCY_LOCK, namespace)
            row = await conn.fetchrow(
                "SELECT schema_name, role_name, password FROM tenants WHERE namespace = $1", namespace
            )
            if row is None:
                database = str(await conn.fetchval("SELECT current_database()"))
                schema, role, password = tenant_schema(namespace), role_name(database, namespace), secrets.token_hex(24)
                await conn.execute(
                    "INSERT INTO tenants (namespace, schema_name, role_name, password) VALUES ($1, $2, $3, $4)",
                    namespace,
                    schema,
                    role,
                    password,
                )
            else:
                schema, role, password = row["schema_name"], row["role_name"], row["password"]
            # Names come from pg_identifier ([a-z0-9_]) and the password is hex: safe to inline in DDL,
            # which takes no bind parameters.
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(
                    f"CREATE ROLE \"{role}\" LOGIN NOINHERIT PASSWORD '{password}'"
                    f" CONNECTION LIMIT {int(self.connection_limit)}"
                )
                log.info("tenant role created", namespace=namespace, role=role)
            else:
                await conn.execute(f"ALTER ROLE \"{role}\" LOGIN PASSWORD '{password}'")
            # The creator may hand the schema to the role only as a member of it (PostgreSQL 16+).
            if not await conn.fetchval("SELECT pg_has_role(current_user, $1, 'USAGE')", role):
                await conn.execute(f'GRANT "{role}" TO CURRENT_USER')
            if not await conn.fetchval("SELECT to_regnamespace($1) IS NOT NULL", schema):
                await conn.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"')
                log.info("tenant schema created", namespace=namespace, schema=schema)
            await conn.execute(f'ALTER ROLE "{role}" SET search_path = "{schema}"')
        return Tenant(
            namespace, schema, role, tenant_dsn(self.admin.dsn, role, password), webhook_token(password, namespace)
        )

    async def _migrate(self, tenant: Tenant) -> None:
        conn = await asyncpg.connect(tenant.dsn)
        try:
            applied = await migrate(conn)
        finally:
            await conn.close()
        if applied:
            log.info("tenant schema migrated", namespace=tenant.namespace, migrations=applied)

    async def store(self, namespace: str) -> Store:
        """A small pool logged in as the namespace's role (its connections close when idle)."""
        found = self._stores.get(namespace)
        if found is None:
            tenant = await self.ensure(namespace)
            async with self._lock(namespace):
                found = self._stores.get(namespace)
                if found is None:
                    found = await Store.open(
                        tenant.dsn, min_size=0, max_size=2, run_migrations=False, idle_seconds=60.0
                    )
                    self._stores[namespace] = found
        return found

    async def token_matches(self, namespace: str, token: str) -> bool:
        """Whether `token` is the namespace's webhook token (False for a namespace not served)."""
        password = await self.admin.pool.fetchval("SELECT password FROM tenants WHERE namespace = $1", namespace)
        return password is not None and hmac.compare_digest(webhook_token(str(password), namespace), token)

    async def namespaces(self) -> list[str]:
        return [str(r["namespace"]) for r in await self.admin.pool.fetch("SELECT namespace FROM tenants ORDER BY 1")]

    async def drop(self, namespace: str) -> None:
        """Remove a tenant whose namespace is gone: its schema (every table), role and catalog row."""
        store = self._stores.pop(namespace, None)
        if store is not None:
            await store.close()
        self._known.pop(namespace, None)
        async with self.admin.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", TENANCY_LOCK, namespace)
            row = await conn.fetchrow("SELECT schema_name, role_name FROM tenants WHERE namespace = $1", namespace)
            if row is None:
                return
            await conn.execute(f'DROP SCHEMA IF EXISTS "{row["schema_name"]}" CASCADE')
            await conn.execute(f'DROP ROLE IF EXISTS "{row["role_name"]}"')
            await conn.execute("DELETE FROM tenants WHERE namespace = $1", namespace)
        log.info("tenant removed: its namespace is gone", namespace=namespace, schema=row["schema_name"])


class SecretsCreated:
    """When this process last created (or found) each namespace's `trodden-tenant-dsn` Secret: created
    again (a 409 when it exists) before a workload is made, at most once a minute per namespace, so a
    namespace deleted and recreated gets its Secret back without a read of any Secret."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, namespace: str) -> asyncio.Lock:
        """Held while the namespace's Secrets are created: a burst of new objects in a namespace
        creates them once, instead of every reconcile posting both (409s) before its Job."""
        return self._locks.setdefault(namespace, asyncio.Lock())

    def due(self, namespace: str) -> bool:
        return time.monotonic() - self._at.get(namespace, float("-inf")) >= SECRET_RECHECK_SECONDS

    def done(self, namespace: str) -> None:
        self._at[namespace] = time.monotonic()


# ---------------------------------------------------------------------------------------------
# Inside one tenant's schema


async def latest_revision(store: Store, suite: str) -> int | None:
    """The newest revision number of `suite`, or None when it has none."""
    found = await store.pool.fetchval("SELECT max(revision) FROM suite_revisions WHERE suite = $1", suite)
    return int(found) if found is not None else None


async def purge(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, kind: str, name: str) -> int:
    """Delete what the store holds under a resource's name; the rows removed."""
    if kind == "RumSource":
        removed = 0
        for table in ("events", "spans", "logs", "sessions"):
            status = await conn.execute(f"DELETE FROM {table} WHERE source = $1", name)
            removed += int(status.split()[-1])
        await conn.execute("DELETE FROM sources WHERE name = $1", name)
        return removed
    statement = {
        "SessionSelector": "DELETE FROM selections WHERE name = $1",
        "TestSuite": "DELETE FROM suites WHERE name = $1",
        "ReplayRun": "DELETE FROM replay_runs WHERE run_name = $1",
    }[kind]
    return int((await conn.execute(statement, name)).split()[-1])


async def claim(store: Store, kind: str, name: str, uid: str) -> None:
    """Record that resource `kind`/`name` with `uid` owns the data under its name. Another uid under
    that name was a deleted resource of the same name: its selections or revisions go now (not
    inherited); a RumSource's sessions stay with the name."""
    async with store.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT uid, deleted_at FROM owners WHERE kind = $1 AND name = $2 FOR UPDATE", kind, name
        )
        if row is not None and row["uid"] == uid and row["deleted_at"] is None:
            return
        if row is not None and row["uid"] != uid and kind != "RumSource":
            removed = await purge(conn, kind, name)
            log.info("data of a deleted resource of the same name removed", kind=kind, name=name, rows=removed)
        await conn.execute(
            "INSERT INTO owners (kind, name, uid) VALUES ($1, $2, $3) ON CONFLICT (kind, name) DO UPDATE"
            " SET uid = excluded.uid, deleted_at = NULL, claimed_at = now()",
            kind,
            name,
            uid,
        )


async def stored_names(store: Store) -> dict[str, set[str]]:
    """Names the schema holds data under, by the kind of resource they belong to."""
    rows = await store.pool.fetch(
        "SELECT 'RumSource' AS kind, name FROM sources"
        " UNION SELECT 'SessionSelector', name FROM selections WHERE name IS NOT NULL"
        " UNION SELECT 'TestSuite', name FROM suites"
        " UNION SELECT 'ReplayRun', run_name FROM replay_runs WHERE run_name IS NOT NULL"
        " UNION SELECT kind, name FROM owners"
    )
    names: dict[str, set[str]] = {k: set() for k in KINDS}
    for row in rows:
        names.setdefault(row["kind"], set()).add(row["name"])
    return names


@dataclass(frozen=True)
class Swept:
    tombstoned: list[tuple[str, str]]
    revived: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    empty: bool  # nothing left in the schema that belongs to a resource


async def sweep(
    store: Store, stored: Mapping[str, set[str]], live: Mapping[str, set[str]], retention: timedelta
) -> Swept:
    """Tombstone what `stored` holds with no resource in `live` (names by kind, read after `stored`,
    so data of a resource created meanwhile is never taken for an orphan); clear tombstones whose
    resource is back; remove the data of tombstones older than `retention`."""
    tombstoned, revived, removed = [], [], []
    async with store.pool.acquire() as conn:
        for kind in KINDS:
            for name in sorted(stored.get(kind, set()) - live.get(kind, set())):
                status = await conn.execute(
                    "INSERT INTO owners (kind, name, deleted_at) VALUES ($1, $2, now()) ON CONFLICT (kind, name)"
                    " DO UPDATE SET deleted_at = now() WHERE owners.deleted_at IS NULL",
                    kind,
                    name,
                )
                if status.endswith(" 1"):
                    tombstoned.append((kind, name))
        for row in await conn.fetch("SELECT kind, name FROM owners WHERE deleted_at IS NOT NULL"):
            if row["name"] in live.get(row["kind"], set()):
                await conn.execute(
                    "UPDATE owners SET deleted_at = NULL WHERE kind = $1 AND name = $2", row["kind"], row["name"]
                )
                revived.append((row["kind"], row["name"]))
        expired = await conn.fetch(
            "SELECT kind, name FROM owners WHERE deleted_at < now() - $1::interval ORDER BY deleted_at", retention
        )
        for row in expired:
            async with conn.transaction():
                await purge(conn, row["kind"], row["name"])
                await conn.execute("DELETE FROM owners WHERE kind = $1 AND name = $2", row["kind"], row["name"])
            removed.append((row["kind"], row["name"]))
    left = await stored_names(store)
    return Swept(tombstoned, revived, removed, empty=not any(left.values()))


def live_names(kind: str, bodies: list[dict[str, object]]) -> set[str]:
    """The store names of existing resources of `kind` (a ReplayRun's is its run name)."""
    names = set()
    for body in bodies:
        owner = builders.Owner.of(body)
        names.add(builders.run_name(owner) if kind == "ReplayRun" else owner.name)
    return names
