"""Page invariants mined per page template: document status classes, load and settle bounds, and
what every arrival at the page showed (texts that cannot vary, seen by two users or more)."""

from __future__ import annotations

from typing import Any

from trodden.models.events import Session
from trodden.synthesis.mining import MiningOptions
from trodden.synthesis.page_mining import PageMiner
from trodden.synthesis.routes import RouteTemplater

ORIGIN = "https://admin.test"


def _outline(order: int, *, rows: int = 3, extra_link: str | None = None) -> dict[str, Any]:
    links = ["Home", "Orders", "Next page", f"Order #{order}"] + ([extra_link] if extra_link else [])
    return {
        "headings": [f"Order {order}", "Items"],  # the first varies by order: never structure
        "landmarks": ["navigation", "main"],
        "tables": [{"name": "items", "headers": ["Item", "Qty", "Price"], "rows": rows}],
        "lists": [{"name": "filters", "items": 4}],
        "links": links,
        "buttons": ["Save"],
        "fields": ["Note"],
        "alerts": [],
    }


def _session(i: int, **outline: Any) -> Session:
    events = [
        {
            "kind": "page_view",
            "url": f"{ORIGIN}/orders/{i}",
            "page": _outline(i, **outline),
            "load": {"status": 200, "duration_ms": 100 + i},
        },
        {"kind": "click", "url": f"{ORIGIN}/orders/{i}", "target": {"role": "link", "name": "Items", "tag": "a"}},
        {
            "kind": "navigation",
            "to_url": f"{ORIGIN}/#/orders/{i}/items",
            "settle_ms": 50 + i,
            "page": _outline(i, **outline),
        },
    ]
    return Session.model_validate(
        {
            "source": "t",
            "session_id": f"s{i}",
            "user_id": f"u{i % 7}",
            "events": [{"session_id": f"s{i}", "seq": k, "ts": 1000.0 + k, **e} for k, e in enumerate(events)],
        }
    )


def _mine(sessions: list[Session]) -> dict[tuple[str, str, str | None], Any]:
    miner = PageMiner(RouteTemplater.learn([]), MiningOptions())
    for s in sessions:
        miner.add(s)
    return {(inv.kind, inv.endpoint, inv.facet or inv.params.get("timing")): inv for inv in miner.invariants()}


def test_status_latency_and_structure_per_page_template() -> None:
    found = _mine([_session(i, extra_link="Export" if i == 0 else None) for i in range(40)])
    status = found[("page_status", "PAGE /orders/{id}", None)]
    assert status.params == {"class": "2xx", "observed": [200]} and status.support == 40
    assert status.description == "pages of /orders/{id} load 2xx (40 of 40)"
    load = found[("page_latency", "PAGE /orders/{id}", "load")]
    assert load.params["max_ms"] >= 139 and load.support == 40
    settle = found[("page_latency", "PAGE /#/orders/{id}/items", "settle")]
    assert settle.params["timing"] == "settle" and settle.support == 40
    assert ("page_status", "PAGE /#/orders/{id}/items", None) not in found  # an SPA route loads no document

    columns = found[("page_structure", "PAGE /orders/{id}", "columns")]
    assert columns.params == {"items": ["Item | Qty | Price"]}
    assert columns.description == "pages of /orders/{id} show a table with columns Item, Qty, Price"
    assert found[("page_structure", "PAGE /orders/{id}", "headings")].params == {"items": ["Items"]}
    links = found[("page_structure", "PAGE /orders/{id}", "links")].params["items"]
    assert links == ["Home", "Next page", "Orders"]  # not "Order #3" (digits), not "Export" (one session)
    assert found[("page_structure", "PAGE /orders/{id}", "filled")].params == {"items": ["list filters", "table items"]}
    assert found[("page_structure", "PAGE /#/orders/{id}/items", "lists")].params == {"items": ["filters"]}


def test_what_not_every_arrival_showed_is_not_structure() -> None:
    # a third of the order pages had an empty item table: "never empty" does not hold
    found = _mine([_session(i, rows=0 if i % 3 == 0 else 2) for i in range(30)])
    filled = found[("page_structure", "PAGE /orders/{id}", "filled")]
    assert filled.params == {"items": ["list filters"]}


def test_one_user_vouches_for_nothing() -> None:
    sessions = [_session(i) for i in range(10)]
    for s in sessions:
        s.user_id = "same-user"
    found = _mine(sessions)
    assert not [k for k in found if k[0] == "page_structure"]
    assert ("page_status", "PAGE /orders/{id}", None) in found  # statuses need no second user


def test_page_invariants_become_assertions_the_suite_keeps_unless_its_recordings_contradict_them() -> None:
    from trodden.synthesis.generate import SelectedInput, build_suite

    sessions = [_session(i) for i in range(40)]
    miner = PageMiner(RouteTemplater.learn([]), MiningOptions())
    for s in sessions:
        miner.add(s)
    assertions = miner.assertions()
    kinds = {(a.kind, a.field) for a in assertions}
    assert {("page_status", None), ("page_latency", None), ("page_structure", "columns")} <= kinds
    columns = next(a for a in assertions if a.field == "columns" and a.endpoint == "PAGE /orders/{id}")
    assert columns.model_dump(by_alias=True)["params"] == {"items": ["Item | Qty | Price"]}

    # a selected session whose order page showed no item table: "never empty" is dropped for the suite
    odd = _session(99, rows=0)
    suite = build_suite("pages", "t", [SelectedInput(session=odd)], None, assertions=assertions)
    dropped = {d.id for d in suite.stats.assertions_dropped}
    filled = next(a for a in assertions if a.field == "filled" and a.endpoint == "PAGE /orders/{id}")
    assert filled.id in dropped and columns.id not in dropped
