"""Free text typed by people is stored raw only once k distinct users of the source sent it.

Inputs people type (names, addresses, notes, searches) carry personal data no pattern finds. A value
of that kind (two or more words with letters) is stored as typed only when at least `k` distinct
users (the batch's user id, else its session) sent the same value; below that it is masked keeping
its shape (letters stay letters of the same case, digits digits, spaces and punctuation kept) with a
keyed, consistent mask, so "Jane Doe" is "Qxwr Plm" in every session that typed it.

Counting never stores the value: the counter keys are HMAC-SHA256 digests (16 bytes) of the value
and of the user under the source's key, kept in memory per collector process (bounded LRU); a value
that reached `k` is remembered as admitted, and each user set is capped at `k` digests. A restarted
collector counts again from zero, which masks more, never less.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict

_WORD = re.compile(r"[^\W\d_]{2,}")


def is_free_text(value: str) -> bool:
    """Two or more words with letters: what a person types, not a code, an id or a token."""
    if " " not in value or len(value) < 5 or "://" in value:
        return False
    first = _WORD.search(value)
    return first is not None and _WORD.search(value, first.end()) is not None


class FreeTextCounter:
    def __init__(self, key: bytes, min_users: int = 5, max_values: int = 200_000) -> None:
        self.key = key
        self.min_users = min_users
        self.max_values = max_values
        self._users: OrderedDict[bytes, set[bytes]] = OrderedDict()
        self._admitted: set[bytes] = set()

    def _digest(self, kind: bytes, value: str) -> bytes:
        return hmac.new(self.key, kind + b"\x00" + value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()[:16]

    def admit(self, value: str, user: str) -> bool:
        """Count `user` for `value`; True when at least k distinct users sent it."""
        digest = self._digest(b"free-text", value)
        if digest in self._admitted:
            return True
        if self.min_users <= 1:
            self._admitted.add(digest)
            return True
        users = self._users.get(digest)
        if users is None:
            users = self._users[digest] = set()
            if len(self._users) > self.max_values:
                self._users.popitem(last=False)
        users.add(self._digest(b"free-text-user", user))
        if len(users) >= self.min_users:
            self._admitted.add(digest)
            del self._users[digest]
            return True
        return False
