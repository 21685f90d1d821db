"""Text people type or a page shows about them is stored raw only once k distinct users sent it.

Inputs people type (names, addresses, notes, searches) and texts pages show (a title "Orders of Jane
Doe", a heading "Welcome back, Jane", a link "12 Rue de la Paix") carry personal data no pattern
finds. A value of that kind (two or more words with letters) is stored as sent only when at least
`k` distinct users (the batch's user id, else its session) sent the same value; below that it is
masked keeping its shape with a keyed, consistent mask (the sanitiser's `typed` and `display`).

Counting never stores a value: the counter's keys are HMAC-SHA256 digests (16 bytes) of the value
and of the user under the source's key. In memory, per collector process: the digests of admitted
values (and, to skip the HMAC on the hot path, the admitted values themselves: text k users sent
is not personal), and per value still below k the digests of the users who sent it (at most k, in
a bounded LRU). Every user newly counted is queued (`pending`) for the database's
`free_text_users` table (`FreeTextStore`, migration 0005), where the collector's replicas and
restarts share the counts: a side lane writes the queue once a second, off the request path, and
reads back the users the other replicas counted for the same values; a value that reached k users
is listed in `free_text_admitted`, which every collector polls, so it is admitted everywhere from
the next lane run on. A restarted collector loads the admitted values at start and re-learns
partial counts as values recur.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import asyncpg

from trodden.log import get_logger

log = get_logger(__name__)

_WORD = re.compile(r"[^\W\d_]{2,}")
MAX_PENDING = 100_000  # users queued for the database; beyond, the oldest are dropped (counts mask more)


# A field that holds a person's name: one word typed there is a name ("Jane"), not a code.
NAME_KEY = re.compile(
    r"(?:first|last|given|family|middle|full|sur|fore|nick|maiden|display)[-_ ]?name|^(?:sur|fore)name$", re.I
)


@lru_cache(maxsize=65536)
def is_name_word(value: str, *, any_case: bool = False) -> bool:
    """One word of letters (inner hyphens and apostrophes allowed: "Mary-Jane", "O'Brien") written as a
    name is ("Jane", "McDonald"): a lone first or last name a person typed. Not all capitals ("SPRING",
    a code) and not lowercase ("sock", a search) unless `any_case` (the field is a name field)."""
    if not 2 <= len(value) <= 40 or not value.replace("-", "").replace("'", "").replace("\u2019", "").isalpha():
        return False
    return any_case or (value[0].isupper() and not value.isupper())


@lru_cache(maxsize=65536)
def is_free_text(value: str) -> bool:
    """Two or more words with letters: what a person types or a page says, not a code, an id or a token."""
    if " " not in value or len(value) < 5 or "://" in value:
        return False
    first = _WORD.search(value)
    return first is not None and _WORD.search(value, first.end()) is not None


class FreeTextCounter:
    """Distinct users per value, by digest; thread-safe enough for the decode thread (one writer at
    a time per structure under the GIL, and a lost count only masks more)."""

    def __init__(self, key: bytes, min_users: int = 5, max_values: int = 200_000) -> None:
        self.key = key
        self.min_users = min_users
        self.max_values = max_values
        self._users: OrderedDict[bytes, set[bytes]] = OrderedDict()
        self._admitted: set[bytes] = set()
        self._admitted_values: set[str] = set()
        self.pending: list[tuple[bytes, bytes]] = []
        self.value_digest = lru_cache(maxsize=65536)(self._value_digest)
        self.user_digest = lru_cache(maxsize=16384)(self._user_digest)

    def _digest(self, kind: bytes, value: str) -> bytes:
        return hmac.new(self.key, kind + b"\x00" + value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()[:16]

    def _value_digest(self, value: str) -> bytes:
        return self._digest(b"free-text", value)

    def _user_digest(self, user: str) -> bytes:
        return self._digest(b"free-text-user", user)

    def admit(self, value: str, user: bytes) -> bool:
        """Count `user` (a `user_digest`) for `value`; True when at least k distinct users sent it."""
        if value in self._admitted_values:
            return True
        digest = self.value_digest(value)
        if digest in self._admitted or self.min_users <= 1:
            self._admit(digest, value)
            return True
        users = self._users.get(digest)
        if users is None:
            users = self._users[digest] = set()
            if len(self._users) > self.max_values:
                self._users.popitem(last=False)
        if user in users:
            return False
        users.add(user)
        if len(self.pending) < MAX_PENDING:
            self.pending.append((digest, user))
        if len(users) >= self.min_users:
            self._admit(digest, value)
            return True
        return False

    def _admit(self, digest: bytes, value: str | None) -> None:
        self._admitted.add(digest)
        self._users.pop(digest, None)
        if value is not None:
            if len(self._admitted_values) >= self.max_values:
                self._admitted_values.clear()  # the digests stay: only the HMAC comes back for a while
            self._admitted_values.add(value)

    def take_pending(self) -> list[tuple[bytes, bytes]]:
        pending, self.pending = self.pending, []
        return pending

    def learn(self, counted: dict[bytes, list[bytes]]) -> None:
        """Users other replicas (or earlier runs) counted for these values."""
        for digest, users in counted.items():
            if digest in self._admitted:
                continue
            if len(users) >= self.min_users:
                self._admit(digest, None)
                continue
            mine = self._users.get(digest)
            if mine is not None:
                mine.update(users)
                if len(mine) >= self.min_users:
                    self._admit(digest, None)

    def learn_admitted(self, digests: list[bytes]) -> None:
        for digest in digests:
            self._admit(digest, None)


class FreeTextStore:
    """The counts in PostgreSQL, shared by the source's collectors: `free_text_users` (source, value
    digest, user digest) and `free_text_admitted` (the values that reached k users, with when).
    `load` at start, then `sync` in a side lane (`run`)."""

    # Admissions committed out of order (a transaction that began earlier commits later) are still
    # read: each poll looks this far behind the latest admission it has seen.
    OVERLAP = timedelta(seconds=30)

    def __init__(self, dsn: str, source: str, counter: FreeTextCounter, every: float = 1.0) -> None:
        self.dsn = dsn
        self.source = source
        self.counter = counter
        self.every = every
        self._since: datetime | None = None

    async def load(self, conn: Any) -> None:
        """The values any collector of the source admitted."""
        await self._poll(conn)

    async def _poll(self, conn: Any) -> None:
        if self._since is None:
            rows = await conn.fetch(
                "SELECT value_digest, admitted_at FROM free_text_admitted WHERE source = $1", self.source
            )
        else:
            rows = await conn.fetch(
                "SELECT value_digest, admitted_at FROM free_text_admitted WHERE source = $1 AND admitted_at > $2",
                self.source,
                self._since - self.OVERLAP,
            )
        if rows:
            self.counter.learn_admitted([bytes(r["value_digest"]) for r in rows])
            latest = max(r["admitted_at"] for r in rows)
            self._since = latest if self._since is None else max(self._since, latest)
        elif self._since is None:
            self._since = datetime.now(UTC) - self.OVERLAP

    async def sync(self, conn: Any) -> int:
        """Write the users counted since the last sync (at most k per value from each collector),
        learn what the other collectors counted for the same values, list the values that reached k
        users, and learn the values the others admitted; returns how many pairs were written."""
        pending = self.counter.take_pending()
        if pending:
            try:
                await self._write(conn, pending)
            except BaseException:
                self.counter.pending[:0] = pending  # written next time (ON CONFLICT makes it idempotent)
                raise
        await self._poll(conn)
        return len(pending)

    async def _write(self, conn: Any, pending: list[tuple[bytes, bytes]]) -> None:
        await conn.execute(
            "INSERT INTO free_text_users (source, value_digest, user_digest)"
            " SELECT $1, v, u FROM unnest($2::bytea[], $3::bytea[]) AS p(v, u)"
            " ON CONFLICT DO NOTHING",
            self.source,
            [v for v, _ in pending],
            [u for _, u in pending],
        )
        rows = await conn.fetch(
            "SELECT value_digest, array_agg(user_digest) AS users FROM free_text_users"
            " WHERE source = $1 AND value_digest = ANY($2::bytea[]) GROUP BY value_digest",
            self.source,
            list({v for v, _ in pending}),
        )
        counted = {bytes(r["value_digest"]): [bytes(u) for u in r["users"]] for r in rows}
        self.counter.learn(counted)
        reached = [d for d, users in counted.items() if len(users) >= self.counter.min_users]
        if reached:
            await conn.execute(
                "INSERT INTO free_text_admitted (source, value_digest)"
                " SELECT $1, v FROM unnest($2::bytea[]) AS a(v) ON CONFLICT DO NOTHING",
                self.source,
                reached,
            )

    async def run(self) -> None:
        """The side lane: a connection of its own, a sync every `every` seconds; a database that is
        down only delays sharing (the in-memory counts go on)."""
        conn: Any = None
        loaded = False
        try:
            while True:
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self.dsn, timeout=10)
                    if not loaded:
                        await self.load(conn)
                        loaded = True
                    await self.sync(conn)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("free-text counts not shared", source=self.source, error=str(exc)[:200])
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            await conn.close()
                    conn = None
                await asyncio.sleep(self.every)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await self.sync(conn)  # what was counted until the end
                    await conn.close()
