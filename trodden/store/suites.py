"""Suite revisions in the store: what `generate` saves and `replay`/`export` load."""

from __future__ import annotations

from trodden.models.suite import Suite
from trodden.store import Store


class SuiteNotFound(LookupError):
    pass


async def save_suite_revision(store: Store, suite: Suite) -> Suite:
    """Store `suite` as the next revision of its name; returns it with `revision` set."""
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO suites (name, source) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            suite.name,
            suite.source,
        )
        # Lock the suite row so concurrent generations get distinct revision numbers.
        await conn.execute("SELECT 1 FROM suites WHERE name = $1 FOR UPDATE", suite.name)
        revision = await conn.fetchval(
            "SELECT coalesce(max(revision), 0) + 1 FROM suite_revisions WHERE suite = $1", suite.name
        )
        stored = suite.model_copy(update={"revision": int(revision)})
        await conn.execute(
            "INSERT INTO suite_revisions (suite, revision, selection_id, ir, stats) VALUES ($1, $2, $3, $4, $5)",
            stored.name,
            stored.revision,
            stored.selection_id,
            stored.model_dump(mode="json"),
            stored.stats.model_dump(mode="json"),
        )
    return stored


async def load_suite(store: Store, name: str, revision: int | None = None) -> Suite:
    """The given revision of a suite, or its latest; `SuiteNotFound` with a readable message."""
    if revision is None:
        row = await store.pool.fetchrow(
            "SELECT ir FROM suite_revisions WHERE suite = $1 ORDER BY revision DESC LIMIT 1", name
        )
    else:
        row = await store.pool.fetchrow(
            "SELECT ir FROM suite_revisions WHERE suite = $1 AND revision = $2", name, revision
        )
    if row is None:
        which = f"revision {revision} of suite {name!r}" if revision is not None else f"suite {name!r}"
        raise SuiteNotFound(f"{which} not found (run `trodden generate --suite {name}` first)")
    return Suite.model_validate(row["ir"])
