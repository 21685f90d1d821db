"""Pages as observations: what a browser step left on the page, judged by the page kinds.

Replay (`trodden.replay.pages`) and the generator (a recorded page view or SPA navigation, to hold
mined page invariants against the suite's own recordings) make the same `Observation`: method
`PAGE`, the page's endpoint (`PAGE /orders/{id}`), `status` the status of the document the step
loaded (0 when it loaded none), `duration_ms` the document's load time or the action's settle
time, the body the page's outline (`trodden.models.events.PageShape` as a dict), and in `extra`
whether a document loaded (`document`) and whether a page was reached at all (`arrived`: a
document, or an SPA route change).
"""

from __future__ import annotations

from typing import Any

from trodden.assertions.observation import Observation
from trodden.assertions.pointer import MISSING
from trodden.models.events import Navigation, PageShape, PageView

PAGE_METHOD = "PAGE"


def loaded_document(obs: Observation) -> bool:
    return obs.method == PAGE_METHOD and bool(obs.extra.get("document"))


def arrived(obs: Observation) -> bool:
    return obs.method == PAGE_METHOD and bool(obs.extra.get("arrived", obs.extra.get("document")))


def recorded_page(ev: PageView | Navigation, endpoint: str | None, step_id: str | None = None) -> Observation:
    """A recorded arrival at a page (a page view's document load, or an SPA navigation)."""
    document = isinstance(ev, PageView)
    load = ev.load if isinstance(ev, PageView) else None
    duration = (load.duration_ms if load else 0.0) if isinstance(ev, PageView) else (ev.settle_ms or 0.0)
    return Observation(
        method=PAGE_METHOD,
        url=(ev.url if isinstance(ev, PageView) else ev.to_url) or "/",
        endpoint=endpoint,
        status=(load.status or 0) if load else 0,
        headers={},
        body=ev.page.model_dump() if ev.page is not None else MISSING,
        duration_ms=duration,
        step_id=step_id,
        is_json=ev.page is not None,
        body_read=ev.page is not None,
        in_browser=True,
        extra={"document": document and load is not None, "arrived": True},
    )


def outline_items(shape: PageShape | dict[str, Any]) -> dict[str, set[str]]:
    """The facets of a page outline as sets of comparable items, as the miner counts them and the
    `page_structure` kind judges them. Tables are items by their column headers
    (`Item | Qty | Price`); `filled` holds the tables and lists (by name) that had rows or items."""
    d = shape.model_dump() if isinstance(shape, PageShape) else shape
    out: dict[str, set[str]] = {
        "headings": set(d.get("headings") or []),
        "landmarks": set(d.get("landmarks") or []),
        "links": set(d.get("links") or []),
        "buttons": set(d.get("buttons") or []),
        "fields": set(d.get("fields") or []),
        "columns": set(),
        "lists": set(),
        "filled": set(),
    }
    for table in d.get("tables") or []:
        headers = [h for h in table.get("headers") or [] if h]
        if headers:
            out["columns"].add(" | ".join(headers))
        if table.get("name") and table.get("rows"):
            out["filled"].add(f"table {table['name']}")
    for lst in d.get("lists") or []:
        if lst.get("name"):
            out["lists"].add(lst["name"])
            if lst.get("items"):
                out["filled"].add(f"list {lst['name']}")
    return out
