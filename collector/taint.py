"""Value-level taint within a session.

A value seen in a secret position (an auth header, a cookie, a secret-named field or parameter, a
masked input, a URL's password, a session-naming header) is a secret wherever else it turns up in
that session: a token a login returned under an innocent name (`data.value`), then sent back in a
custom header, is replaced by the same pseudonym in the body, the header, URLs and fragments.

The sanitiser records each secret with its pseudonym in the session's `Taint` while it sanitises a
batch (`CURRENT`, a context variable, so requests sanitised on the event loop and in a worker thread
never mix), then the decoder replaces every recurrence in what it produced for the batch. Sessions
are remembered by a bounded LRU per collector process, so a secret seen in one batch is followed
into the session's later batches that reach the same process. Pseudonyms depend only on the value,
so replay's correlation (the token a response returned is the token the next request sends) holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, quote_plus

MIN_LENGTH = 6  # shorter values ("en", "1", "yes") would wreck everything they occur in
MAX_VALUES = 64  # per session


class Taint:
    """One session's secrets: raw value (and its URL encodings) → pseudonym (and the same encodings)."""

    __slots__ = ("_keep", "values")

    def __init__(self, keep: Callable[[Taint], None] | None = None) -> None:
        self.values: dict[str, str] = {}
        self._keep = keep  # called with the first secret: a session without any is never stored

    def add(self, raw: str, pseudonym: str) -> None:
        if len(raw) < MIN_LENGTH or raw == pseudonym or raw in self.values or len(self.values) >= 3 * MAX_VALUES:
            return
        if self._keep is not None:
            self._keep(self)
            self._keep = None
        self.values[raw] = pseudonym
        for encode in (lambda v: quote(v, safe=""), quote_plus):
            encoded = encode(raw)
            if encoded != raw:
                self.values.setdefault(encoded, encode(pseudonym))

    def apply(self, text: str) -> str:
        for raw, pseudonym in self.values.items():
            if raw in text:
                text = text.replace(raw, pseudonym)
        return text

    def walk(self, value: Any) -> Any:
        """`value` (a JSON value) with every recurrence replaced."""
        cls = value.__class__
        if cls is str:
            return self.apply(value)
        if cls is dict:
            return {self.apply(k): self.walk(v) for k, v in value.items()}
        if cls is list:
            return [self.walk(v) for v in value]
        return value


class TaintStore:
    """The sessions' taints, least recently used first out."""

    def __init__(self, max_sessions: int = 20_000) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Taint] = OrderedDict()

    def of(self, session_id: str) -> Taint:
        """The session's taint; a new one joins the store once it holds a secret (most sessions
        never do: the store keeps only those worth following)."""
        taint = self._sessions.get(session_id)
        if taint is None:
            return Taint(lambda t: self._keep(session_id, t))
        self._sessions.move_to_end(session_id)
        return taint

    def _keep(self, session_id: str, taint: Taint) -> None:
        self._sessions[session_id] = taint
        if len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)


CURRENT: ContextVar[Taint | None] = ContextVar("trodden_taint", default=None)


def record(raw: str, pseudonym: str) -> None:
    """Remember a secret seen in a secret position, for the session being sanitised (if any)."""
    taint = CURRENT.get()
    if taint is not None:
        taint.add(raw, pseudonym)
