"""The visible state that followed a UI step, as replay should expect it.

rum.js records on page views, SPA navigations, clicks, submits and Enter presses which elements
became visible once the page settled (`visible` in the event model). A browser step's expectation
keeps, of its own recording's snapshot:

- `visible`: a locator per element (test id, else a non-volatile id, else role and accessible
  name), unless most sessions doing the same thing (same page path and query, same action on the
  same target) did not see it: then what shows depends on state the test does not reproduce (an
  error for one input, a cart line from an earlier visit), and replay would miss it on an
  unchanged application;
- `visible_text`: only texts that cannot vary by run or user and that the data vouches for: no
  digits (counts, prices, dates, ids, order numbers, most pseudonyms), no `@`, no currency sign,
  no token-like word, at most 80 characters, and seen identically after the same step by at least
  two different users, never with another text on the same element there.

The statistics come from every session of the source (`VisibleLearner.add`), like mined
assertions; generation asks for one recorded snapshot (`VisibleLearner.expected`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from trodden.models.events import Navigation, PageView, Session, Target, UiEvent
from trodden.models.sanitization import is_masked
from trodden.models.suite import Locator
from trodden.pages import page_url
from trodden.synthesis.steps import target_key

MAX_TEXT = 80
MIN_TEXT_USERS = 2
_VOLATILE_TEXT = re.compile(r"\d|@|[$€£¥₹]|\S{20,}")
_VOLATILE_ID = re.compile(r"\d|[0-9a-f]{8,}", re.I)

StepKey = tuple[str, str, str]  # (page path?query, "view" or the UI event kind, target key)


def steady_text(text: str | None) -> str | None:
    """The text, whitespace-normalised, when nothing in it looks like it varies; else None (a
    text the collector masked too: it says nothing of what the page showed)."""
    if not text or is_masked(text):
        return None
    text = " ".join(text.split())
    if not text or len(text) > MAX_TEXT or _VOLATILE_TEXT.search(text):
        return None
    return text


def visible_locator(target: Target) -> Locator | None:
    """How replay finds a shown element: its test id, else a stable id, else role and name."""
    if target.test_id:
        # "product-link-SOCK-001", "remove-SHOE-001": one item of data, there only with that data
        return None if any(c.isdigit() for c in target.test_id) else Locator(strategy="test_id", value=target.test_id)
    if target.id and not _VOLATILE_ID.search(target.id):
        return Locator(strategy="id", value=target.id)
    name = steady_text(target.name)
    if target.role and name:
        return Locator(strategy="role", value=target.role, name=name)
    return None


def _locator_key(loc: Locator) -> str:
    return f"{loc.strategy}={loc.value}" + (f"[{loc.name}]" if loc.name else "")


def _page(url: str | None) -> str:
    return page_url(url)


def step_key(ev: PageView | Navigation | UiEvent) -> StepKey:
    """What "the same step" means across sessions: the page it happened on (for a page view or an
    SPA navigation, the page reached), the action and its target."""
    if isinstance(ev, Navigation):
        return (_page(ev.to_url), "view", "")
    if isinstance(ev, PageView):
        return (_page(ev.url), "view", "")
    return (_page(ev.url), ev.kind, target_key(ev.target))


def snapshots(session: Session) -> Iterator[tuple[PageView | Navigation | UiEvent, list[Target]]]:
    """The events of a session that carry a recorded snapshot, with it."""
    for ev in session.events:
        if isinstance(ev, PageView | Navigation | UiEvent) and ev.visible is not None:
            yield ev, ev.visible


@dataclass
class _Seen:
    """What followed one step key across sessions."""

    n: int = 0  # snapshots recorded
    shown: Counter[str] = field(default_factory=Counter)  # locator key -> snapshots with it
    texts: dict[str, Counter[str]] = field(default_factory=dict)  # locator key -> text ("" none) -> snapshots
    users: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (locator, text) -> users (capped)


@dataclass
class VisibleExpectation:
    visible: list[Locator] = field(default_factory=list)
    visible_text: list[str] = field(default_factory=list)

    def merge(self, other: VisibleExpectation) -> None:
        keys = {_locator_key(loc) for loc in self.visible}
        self.visible.extend(loc for loc in other.visible if _locator_key(loc) not in keys)
        self.visible_text.extend(t for t in other.visible_text if t not in self.visible_text)


def referred_by_own_page(ev: PageView) -> bool:
    """Whether a page load names a page of the same site as the one that sent the browser there."""
    if not ev.referrer or not ev.url:
        return False
    a, b = urlsplit(ev.referrer), urlsplit(ev.url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


class VisibleLearner:
    """Per step key, which elements showed after it and with which texts, over all sessions; and
    whether the application's page loads say which of its pages sent the browser there (`referred`:
    then a load without a referrer was typed or bookmarked, not where the previous action led)."""

    def __init__(self) -> None:
        self.steps: dict[StepKey, _Seen] = {}
        self.referred = False

    def add(self, session: Session) -> None:
        user = session.user_id or session.session_id
        if not self.referred:
            self.referred = any(isinstance(ev, PageView) and referred_by_own_page(ev) for ev in session.events)
        for ev, shown in snapshots(session):
            seen = self.steps.setdefault(step_key(ev), _Seen())
            seen.n += 1
            for key, text in _elements(shown):
                seen.shown[key] += 1
                seen.texts.setdefault(key, Counter())[text] += 1  # every text, to see it vary
                if steady_text(text) is not None:
                    users = seen.users.setdefault((key, text), set())
                    if len(users) < MIN_TEXT_USERS:
                        users.add(user)

    def expected(self, ev: PageView | Navigation | UiEvent) -> VisibleExpectation:
        """The expectation one recorded event's snapshot supports (empty without a snapshot)."""
        out = VisibleExpectation()
        # A loaded page also shows state made before the session (a cart, a wishlist from an
        # earlier visit) that a test in a fresh browser does not have, even when every recorded
        # load showed it: only what an action (or the SPA navigation it caused) brought is expected.
        if ev.visible is None or isinstance(ev, PageView):
            return out
        seen = self.steps.get(step_key(ev))
        for target in ev.visible:
            loc = visible_locator(target)
            if loc is None:
                continue
            key = _locator_key(loc)
            if seen is not None and seen.n > 1 and seen.shown[key] * 2 < seen.n:
                continue  # most sessions doing this did not see it: it depends on state
            if key not in {_locator_key(v) for v in out.visible}:
                out.visible.append(loc)
            text = _normal(target.text)
            if steady_text(text) is None or seen is None or text in out.visible_text:
                continue
            texts = seen.texts.get(key, Counter())
            if list(texts) == [text] and len(seen.users.get((key, text), ())) >= MIN_TEXT_USERS:
                out.visible_text.append(text)
        return out


def _normal(text: str | None) -> str:
    return " ".join((text or "").split())


def _elements(shown: Iterable[Target]) -> Iterator[tuple[str, str]]:
    done: set[str] = set()
    for target in shown:
        loc = visible_locator(target)
        if loc is None:
            continue
        key = _locator_key(loc)
        if key not in done:
            done.add(key)
            yield key, _normal(target.text)
