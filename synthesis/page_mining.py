"""Page invariants mined over all sessions of a source, per page template.

rum.js records, for every page view, how its document loaded (status, timings) and an outline of
what the page showed once it settled; SPA navigations carry the outline and the time the page took
to settle. Per page template (`PAGE /orders/{id}`, the fragment route included), over every
arrival at such a page:

- **status**: the documents' status class, when one class holds in `min_confidence` of at least
  `min_support` loads whose status the browser gave ("pages of /orders/{id} load 2xx");
- **latency**: a bound on the document load time (page views), and one on the settle time (SPA
  navigations), mined like API latencies (`MiningOptions.latency_*`);
- **structure**: what the page shows every time: headings, table columns, landmarks, link and
  button names, field labels, named lists, and tables or lists that are never empty ("pages of
  /orders/{id} show a table with columns Item, Qty, Price"). An item counts when it was there in
  `min_confidence` of at least `min_support` arrivals, seen by at least two users, and its text
  cannot vary (`visible.steady_text`: no digits, no @, no currency, no tokens, at most 80
  characters): counts, prices, names and ids never become structure.

Pure: sessions in, assertions out (kinds `page_status`, `page_latency`, `page_structure`, in
`trodden.assertions.kinds`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trodden.assertions import Assertion, make_assertion
from trodden.assertions.page import outline_items
from trodden.models.events import Navigation, PageView, Session
from trodden.pages import page_path
from trodden.synthesis.mining import MiningOptions, assertion_id, supported_percentile
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.steps import status_class
from trodden.synthesis.visible import MIN_TEXT_USERS, steady_text

PAGE = "PAGE"
# Facets of a page outline that become structure invariants, and how a description names them.
FACETS: dict[str, str] = {
    "headings": "the headings",
    "columns": "tables with the columns",
    "landmarks": "the landmarks",
    "links": "the links",
    "buttons": "the buttons",
    "fields": "the fields",
    "lists": "the lists",
    "filled": "never empty",
}


def page_endpoint(template: str) -> str:
    return f"{PAGE} {template}"


def _steady_item(facet: str, item: str) -> bool:
    if facet == "columns":
        return all(steady_text(part) == part for part in item.split(" | "))
    if facet == "filled":
        name = item.split(" ", 1)[1]
        return steady_text(name) == name
    return steady_text(item) == item


@dataclass
class PageInvariant:
    """One mined page invariant (kind `page_status`, `page_latency` or `page_structure`): what
    `assertions()` makes an assertion of."""

    kind: str
    endpoint: str
    params: dict[str, Any]
    support: int
    confidence: float
    sessions: list[str]
    description: str
    facet: str | None = None  # page_structure: which part of the outline


@dataclass
class _Page:
    statuses: Counter[int] = field(default_factory=Counter)
    load_ms: list[float] = field(default_factory=list)
    settle_ms: list[float] = field(default_factory=list)
    arrivals: int = 0  # outlines recorded on arriving at the page
    items: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    users: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    sessions: list[str] = field(default_factory=list)


class PageMiner:
    """Feed sessions with `add`, read invariants with `invariants()`."""

    def __init__(self, templater: RouteTemplater, options: MiningOptions | None = None) -> None:
        self.templater = templater
        self.options = options or MiningOptions()
        self.pages: dict[str, _Page] = defaultdict(_Page)

    def add(self, session: Session) -> None:
        user = session.user_id or session.session_id
        for ev in session.events:
            if isinstance(ev, PageView):
                url = ev.url
            elif isinstance(ev, Navigation):
                url = ev.to_url
            else:
                continue
            page = self.pages[self.templater.template(page_path(url))]
            if len(page.sessions) < self.options.sample_sessions and session.session_id not in page.sessions:
                page.sessions.append(session.session_id)
            if isinstance(ev, PageView) and ev.load is not None:
                if ev.load.status:
                    page.statuses[ev.load.status] += 1
                if ev.load.type == "navigate" and ev.load.duration_ms > 0 and (ev.load.status or 200) < 400:
                    page.load_ms.append(ev.load.duration_ms)
            elif isinstance(ev, Navigation) and ev.settle_ms is not None:
                page.settle_ms.append(ev.settle_ms)
            if ev.page is None:
                continue
            page.arrivals += 1
            for facet, items in outline_items(ev.page).items():
                for item in items:
                    page.items[facet][item] += 1
                    users = page.users.setdefault((facet, item), set())
                    if len(users) < MIN_TEXT_USERS:
                        users.add(user)

    def assertions(self) -> list[Assertion]:
        return [
            make_assertion(
                {
                    "id": assertion_id(
                        inv.kind,
                        inv.endpoint,
                        inv.facet,
                        None,
                        {"timing": inv.params["timing"]} if inv.kind == "page_latency" else {},
                    ),
                    "kind": inv.kind,
                    "endpoint": inv.endpoint,
                    "field": inv.facet,
                    "params": inv.params,
                    "support": inv.support,
                    "confidence": inv.confidence,
                    "sessions": inv.sessions[: self.options.sample_sessions],
                    "description": inv.description,
                }
            )
            for inv in self.invariants()
        ]

    def invariants(self) -> list[PageInvariant]:
        out: list[PageInvariant] = []
        for template in sorted(self.pages):
            page = self.pages[template]
            out.extend(self._status(template, page))
            out.extend(self._latency(template, page))
            out.extend(self._structure(template, page))
        return out

    def _status(self, template: str, page: _Page) -> list[PageInvariant]:
        o = self.options
        n = sum(page.statuses.values())
        if n < o.min_support:
            return []
        classes: Counter[str] = Counter()
        for status, count in page.statuses.items():
            classes[status_class(status)] += count
        cls, count = classes.most_common(1)[0]
        if count / n < o.min_confidence:
            return []
        observed = sorted(s for s in page.statuses if status_class(s) == cls)
        return [
            PageInvariant(
                "page_status",
                page_endpoint(template),
                {"class": cls, "observed": observed},
                n,
                round(count / n, 4),
                page.sessions,
                f"pages of {template} load {cls} ({count:,} of {n:,})",
            )
        ]

    def _latency(self, template: str, page: _Page) -> list[PageInvariant]:
        o = self.options
        out: list[PageInvariant] = []
        for timing, values, what in (("load", page.load_ms, "load"), ("settle", page.settle_ms, "settle")):
            if len(values) < max(o.latency_min_support, o.min_support):
                continue
            q = supported_percentile(len(values), o.latency_percentile, o.latency_tail_support)
            pq = float(np.percentile(np.asarray(values), q))
            bound = round(max(pq * o.latency_margin, pq + o.latency_floor_ms), 1)
            out.append(
                PageInvariant(
                    "page_latency",
                    page_endpoint(template),
                    {
                        "timing": timing,
                        "max_ms": bound,
                        "percentile": q,
                        "quantile_ms": round(pq, 1),
                        "margin": o.latency_margin,
                        "floor_ms": o.latency_floor_ms,
                    },
                    len(values),
                    0.99,
                    page.sessions,
                    f"pages of {template} {what} within {bound:,.0f} ms (p{q:g} {pq:,.0f} ms)",
                )
            )
        return out

    def _structure(self, template: str, page: _Page) -> list[PageInvariant]:
        o = self.options
        n = page.arrivals
        if n < o.min_support:
            return []
        out: list[PageInvariant] = []
        for facet in FACETS:
            held = sorted(
                item
                for item, count in page.items.get(facet, Counter()).items()
                if count / n >= o.min_confidence
                and _steady_item(facet, item)
                and len(page.users.get((facet, item), ())) >= MIN_TEXT_USERS
            )
            if not held:
                continue
            least = min(page.items[facet][item] for item in held)
            out.append(
                PageInvariant(
                    "page_structure",
                    page_endpoint(template),
                    {"items": held},
                    n,
                    round(least / n, 4),
                    page.sessions,
                    describe_structure(template, facet, held),
                    facet=facet,
                )
            )
        return out


def describe_structure(template: str, facet: str, items: Iterable[str]) -> str:
    items = list(items)
    if facet == "columns":
        tables = "; ".join(i.replace(" | ", ", ") for i in items)
        return (
            f"pages of {template} show a table with columns {tables}"
            if len(items) == 1
            else f"pages of {template} show tables with columns {tables}"
        )
    if facet == "filled":
        return f"pages of {template} show a non-empty " + ", ".join(items)
    if facet == "lists":
        return f"pages of {template} show the lists " + ", ".join(items)
    return f"pages of {template} show {FACETS[facet]} " + ", ".join(items)
