"""Tenancy on a real PostgreSQL: a schema and a role per namespace, claims, tombstones, the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from trodden.cliutil import InputError
from trodden.operator import tenancy
from trodden.store import Store, pg_identifier, tenant_schema


@pytest.fixture
async def tenants(dsn: str) -> AsyncIterator[tenancy.Tenants]:
    found = await tenancy.Tenants.open(dsn)
    yield found
    for namespace in await found.namespaces():
        await found.drop(namespace)
    await found.close()


async def _fetchval(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_identifiers_are_bounded_and_distinct() -> None:
    assert tenant_schema("team-a") == "ns_team_a"
    assert tenant_schema("a--b") != tenant_schema("a-b")
    long = tenant_schema("x" * 63)
    assert len(long) <= 63 and long != tenant_schema("x" * 62 + "y")
    assert tenancy.role_name("db1", "team-a") != tenancy.role_name("db2", "team-a")
    assert pg_identifier("Trodden", "a.b") == "trodden_a_b"


def test_tenant_dsn_keeps_everything_but_the_credentials() -> None:
    assert tenancy.tenant_dsn("postgresql://admin:s3cret@db.svc:5432/trodden?sslmode=require", "r1", "p/w") == (
        "postgresql://r1:p%2Fw@db.svc:5432/trodden?sslmode=require"
    )
    assert tenancy.tenant_dsn("postgresql://postgres:@/t_1?host=/tmp/sock", "r", "p") == (
        "postgresql://r:p@/t_1?host=/tmp/sock"
    )
    with pytest.raises(ValueError, match="postgresql://"):
        tenancy.tenant_dsn("host=db user=x", "r", "p")


async def test_each_namespace_gets_a_schema_it_owns_and_nothing_else(tenants: tenancy.Tenants) -> None:
    a, b = await tenants.ensure("team-a"), await tenants.ensure("team-b")
    assert (a.schema, b.schema) == ("ns_team_a", "ns_team_b") and a.role != b.role
    store_a, store_b = await tenants.store("team-a"), await tenants.store("team-b")
    await store_a.pool.execute("INSERT INTO suites (name, source) VALUES ('checkout', 'shop')")
    # The same name in b is another row in another schema; b's role cannot see a's.
    assert await store_b.pool.fetchval("SELECT count(*) FROM suites") == 0
    await store_b.pool.execute("INSERT INTO suites (name, source) VALUES ('checkout', 'other')")
    assert await store_a.pool.fetchval("SELECT source FROM suites") == "shop"
    for sql in (
        f"SELECT * FROM {a.schema}.suites",
        f"SELECT * FROM {a.schema}.events",
        "SELECT * FROM public.tenants",
        "CREATE TABLE public.planted (x int)",
        f"CREATE TABLE {a.schema}.planted (x int)",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await store_b.pool.execute(sql)
    # Its own tables are its own: it owns the schema it migrated (the collector adds partitions).
    assert await store_a.pool.fetchval(
        "SELECT bool_and(tableowner = current_user) FROM pg_tables WHERE schemaname = current_schema()"
    )
    await store_a.pool.execute("CREATE TABLE events_20300101 (LIKE events INCLUDING DEFAULTS)")
    await store_a.pool.execute(
        "ALTER TABLE events ATTACH PARTITION events_20300101 FOR VALUES FROM ('2030-01-01') TO ('2030-01-02')"
    )


async def test_webhook_tokens_are_per_namespace(tenants: tenancy.Tenants) -> None:
    a, b = await tenants.ensure("team-a"), await tenants.ensure("team-b")
    assert a.webhook_token != b.webhook_token and len(a.webhook_token) == 40
    assert await tenants.token_matches("team-a", a.webhook_token)
    assert not await tenants.token_matches("team-b", a.webhook_token)
    assert not await tenants.token_matches("nobody", a.webhook_token)


async def test_provisioning_is_idempotent_across_operators(tenants: tenancy.Tenants, dsn: str) -> None:
    first = await tenants.ensure("team-a")
    other = await tenancy.Tenants.open(dsn)  # a second replica, or a restarted operator
    try:
        both = await asyncio.gather(other.ensure("team-a"), other.ensure("team-a"))
        assert both[0] == both[1] == first  # same role, same password: the namespace's Secret stays valid
    finally:
        await other.close()
    assert await _fetchval(first.dsn, "SELECT current_schema()") == "ns_team_a"


async def test_the_cli_reads_a_namespace_through_trodden_namespace(
    tenants: tenancy.Tenants, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await tenants.store("team-a")
    await store.pool.execute("INSERT INTO suites (name, source) VALUES ('checkout', 'shop')")
    monkeypatch.setenv("TRODDEN_NAMESPACE", "team-a")
    admin = await Store.open(dsn)
    try:
        assert await admin.pool.fetchval("SELECT name FROM suites") == "checkout"
    finally:
        await admin.close()
    monkeypatch.setenv("TRODDEN_NAMESPACE", "nobody")
    with pytest.raises(InputError, match="namespace 'nobody' has no data"):
        await Store.open(dsn)
    monkeypatch.delenv("TRODDEN_NAMESPACE")
    default = await Store.open(dsn)  # outside Kubernetes: the default schema, as always
    try:
        assert await default.pool.fetchval("SELECT count(*) FROM suites") == 0
    finally:
        await default.close()


async def _suite(store: Store, name: str, revisions: int) -> None:
    await store.pool.execute("INSERT INTO suites (name, source) VALUES ($1, 'shop')", name)
    for rev in range(1, revisions + 1):
        await store.pool.execute("INSERT INTO suite_revisions (suite, revision, ir) VALUES ($1, $2, '{}')", name, rev)


async def test_a_recreated_suite_or_selector_inherits_nothing(tenants: tenancy.Tenants) -> None:
    store = await tenants.store("team-a")
    await tenancy.claim(store, "TestSuite", "checkout", "uid-1")
    await _suite(store, "checkout", 3)
    await tenancy.claim(store, "TestSuite", "checkout", "uid-1")  # the same object again: nothing changes
    assert await tenancy.latest_revision(store, "checkout") == 3
    await tenancy.claim(store, "TestSuite", "checkout", "uid-2")  # deleted and created again
    assert await tenancy.latest_revision(store, "checkout") is None
    await store.pool.execute("INSERT INTO selections (source, name, params) VALUES ('shop', 'picks', '{}')")
    await tenancy.claim(store, "SessionSelector", "picks", "s-1")
    await tenancy.claim(store, "SessionSelector", "picks", "s-2")
    assert await store.pool.fetchval("SELECT count(*) FROM selections") == 0
    # A RumSource's sessions describe the application: a recreated one keeps them.
    await store.pool.execute(
        "INSERT INTO sessions (source, session_id, first_ts, last_ts) VALUES ('shop', 's1', now(), now())"
    )
    await tenancy.claim(store, "RumSource", "shop", "r-1")
    await tenancy.claim(store, "RumSource", "shop", "r-2")
    assert await store.pool.fetchval("SELECT count(*) FROM sessions") == 1


async def test_sweep_tombstones_then_removes_after_the_retention(tenants: tenancy.Tenants) -> None:
    store = await tenants.store("team-a")
    await _suite(store, "kept", 1)
    await _suite(store, "gone", 2)
    await store.pool.execute(
        "INSERT INTO replay_runs (suite, revision, target, run_name) VALUES"
        " ('gone', 1, 'http://t', 'team-a/run-1/abcdef01')"
    )
    live = {"TestSuite": {"kept"}}
    swept = await tenancy.sweep(store, await tenancy.stored_names(store), live, timedelta(days=1))
    assert sorted(swept.tombstoned) == [("ReplayRun", "team-a/run-1/abcdef01"), ("TestSuite", "gone")]
    assert not swept.removed and not swept.empty
    assert await tenancy.latest_revision(store, "gone") == 2  # kept during the retention
    # The suite comes back (re-applied within the retention): its tombstone goes.
    swept = await tenancy.sweep(
        store, await tenancy.stored_names(store), {"TestSuite": {"kept", "gone"}}, timedelta(days=1)
    )
    assert swept.revived == [("TestSuite", "gone")]
    # Gone for good, and the retention passed.
    await tenancy.sweep(store, await tenancy.stored_names(store), live, timedelta(days=1))
    await store.pool.execute("UPDATE owners SET deleted_at = now() - interval '2 days'")
    swept = await tenancy.sweep(store, await tenancy.stored_names(store), live, timedelta(days=1))
    assert sorted(swept.removed) == [("ReplayRun", "team-a/run-1/abcdef01"), ("TestSuite", "gone")]
    assert await store.pool.fetchval("SELECT count(*) FROM replay_runs") == 0
    assert [r["name"] for r in await store.pool.fetch("SELECT name FROM suites")] == ["kept"]
    # Everything gone: the schema is empty of resource data, and the tenant can be removed.
    swept = await tenancy.sweep(store, await tenancy.stored_names(store), {}, timedelta(0))
    swept = await tenancy.sweep(store, await tenancy.stored_names(store), {}, timedelta(0))
    assert swept.empty
    role = (await tenants.ensure("team-a")).role
    await tenants.drop("team-a")
    assert await tenants.admin.pool.fetchval("SELECT to_regnamespace('ns_team_a')") is None
    assert not await tenants.admin.pool.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = $1", role)
