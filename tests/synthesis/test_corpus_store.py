"""`write_sessions` stores sessions the way the collector does: the trigger on `events` makes each
session's row, the attributes are the session's own."""

from __future__ import annotations

from trodden.store import Store
from trodden.synthesis.corpus import shop_sessions, write_sessions


async def test_written_sessions_have_their_counts_times_user_and_attributes(store: Store) -> None:
    sessions = list(shop_sessions(6, seed=3))
    sessions[0] = sessions[0].model_copy(update={"attributes": {"plan": "pro"}})
    assert await write_sessions(store, "shop", sessions) == 6
    rows = {r["session_id"]: r for r in await store.pool.fetch("SELECT * FROM sessions WHERE source = 'shop'")}
    assert set(rows) == {s.session_id for s in sessions}
    for s in sessions:
        row = rows[s.session_id]
        assert row["event_count"] == len(s.events)
        assert row["first_ts"].timestamp() * 1000 == min(e.ts for e in s.events)
        assert row["last_ts"].timestamp() * 1000 == max(e.ts for e in s.events)
        assert row["user_id"] == s.user_id
        assert row["attributes"] == s.attributes
    assert rows[sessions[0].session_id]["attributes"] == {"plan": "pro"}
