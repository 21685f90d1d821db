"""Display texts (titles, target and visible names and texts, page outlines) are kept only once k
distinct users saw them, else stored masked and marked (`MASK_MARK`); synthesis never locates or
expects by a masked text; the counts are shared by a source's collectors through PostgreSQL and
survive a restart, as digests only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from trodden.collector.ingest import ingest_files
from trodden.collector.sanitize import Sanitizer
from trodden.models.events import PageView, Session, Target
from trodden.models.sanitization import MASK_MARK, MaskedText, SanitizationConfig, is_masked, masked
from trodden.store import Store
from trodden.synthesis.generate import locators
from trodden.synthesis.mining import MiningOptions
from trodden.synthesis.page_mining import PageMiner
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.visible import steady_text, visible_locator

from .conftest import PSEUDONYM_KEY, StartCollector

NAME = "Welcome back, Jane Doe"
STREET = "12 Rue de la Paix"
CHROME = "Add to cart"
T = 1_700_000_000_000


def view(text: str, seq: int = 0) -> dict[str, Any]:
    """A page view whose every display text is `text`."""
    target = {"role": "link", "name": text, "text": text, "tag": "a", "css": "#x"}
    return {
        "kind": "page_view",
        "seq": seq,
        "ts": T + seq,
        "url": "https://shop.example/account",
        "title": text,
        "visible": [target],
        "page": {
            "headings": [text],
            "landmarks": ["main"],
            "tables": [{"name": text, "headers": [text, "Total"], "rows": 2}],
            "lists": [{"name": text, "items": 3}],
            "links": [text],
            "buttons": [text],
            "fields": [text],
            "alerts": [text],
        },
    }


def texts(event: dict[str, Any]) -> list[str]:
    page = event["page"]
    [table], [lst], [shown] = page["tables"], page["lists"], event["visible"]
    return [
        event["title"],
        shown["name"],
        shown["text"],
        *page["headings"],
        table["name"],
        table["headers"][0],
        lst["name"],
        *page["links"],
        *page["buttons"],
        *page["fields"],
        *page["alerts"],
    ]


def sanitised(sanitizer: Sanitizer, user: str, event: dict[str, Any]) -> dict[str, Any]:
    tokens = sanitizer.begin("s-" + user, user)
    try:
        return sanitizer.event(event)
    finally:
        sanitizer.end(tokens)


def test_a_text_fewer_than_k_users_saw_is_masked_and_marked() -> None:
    sanitizer = Sanitizer(PSEUDONYM_KEY)
    out = sanitised(sanitizer, "jane", view(NAME))
    for text in texts(out):
        assert is_masked(text) and text.startswith(MASK_MARK), text
        assert len(text) == len(NAME) and "Jane" not in text and "Doe" not in text
        assert text[1:] != NAME[1:]
    assert out["page"]["tables"][0]["headers"][1] == "Total"  # one word: not a text that names anyone
    assert out["page"]["landmarks"] == ["main"] and out["page"]["tables"][0]["rows"] == 2
    assert out["visible"][0]["role"] == "link" and out["visible"][0]["css"] == "#x"
    # the same text gives the same mask, whoever saw it: masks of one text can be grouped
    assert sanitised(sanitizer, "john", view(NAME))["title"] == out["title"]
    # the model reads it back; synthesis takes a masked text for nothing
    event = PageView.model_validate({**out, "session_id": "s"})
    assert event.title is not None and is_masked(event.title)
    target = event.visible[0] if event.visible else Target()
    assert [loc.strategy for loc in locators(target)] == ["css"]
    assert visible_locator(target) is None and steady_text(target.text) is None
    assert is_masked(masked("Xxx")) and isinstance(masked("Xxx"), MaskedText) and not is_masked("Jane Doe")


def test_a_text_k_users_saw_is_kept_and_a_client_cannot_forge_the_mark() -> None:
    sanitizer = Sanitizer(PSEUDONYM_KEY)  # k = 5
    results = [sanitised(sanitizer, f"user{i}", view(CHROME, i))["title"] for i in range(6)]
    assert all(is_masked(r) for r in results[:4]) and results[4:] == [CHROME, CHROME]
    # one user seeing it in many sessions is one user
    many = [sanitised(sanitizer, "jane", view(STREET, i))["title"] for i in range(8)]
    assert all(is_masked(t) for t in many)
    forged = sanitised(sanitizer, "user9", {**view(CHROME, 9), "title": MASK_MARK + CHROME, "page": {}})
    assert forged["title"] == CHROME  # the mark is the collector's alone
    # k is the source's setting; 1 keeps every text (a source that shows no personal data)
    everyone = Sanitizer(PSEUDONYM_KEY, SanitizationConfig(free_text_min_users=1))
    assert sanitised(everyone, "jane", view(NAME))["title"] == NAME


async def test_counts_are_shared_by_replicas_and_survive_a_restart(
    start_collector: StartCollector, store: Store
) -> None:
    first = await start_collector()
    second = await start_collector()  # a replica: the same source, another process's memory

    async def title_stored(collector: Any, user: str, seq: int) -> str:
        batch = {"session_id": f"s-{user}-{seq}", "user_id": user, "events": [view(CHROME, seq)]}
        status, body, _ = await collector.post("/v1/rum", batch)
        assert status == 200, body
        row = await store.pool.fetchrow(
            "SELECT data->>'title' AS title FROM events WHERE session_id = $1", batch["session_id"]
        )
        return str(row["title"])

    for i in range(3):
        assert is_masked(await title_stored(first, f"u{i}", i))
    for i in range(3, 5):  # the second replica counted only two users itself
        assert is_masked(await title_stored(second, f"u{i}", i))

    async def shared() -> int:
        return int(await store.pool.fetchval("SELECT count(*) FROM free_text_users WHERE source = 'shop'") or 0)

    for _ in range(100):
        if await shared() >= 5:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # one more side-lane run each: both read back what the other wrote
    assert await title_stored(second, "u5", 5) == CHROME
    assert await title_stored(first, "u6", 6) == CHROME

    restarted = await start_collector()  # a new collector: nothing in memory, the counts in the database
    for _ in range(50):
        if await title_stored(restarted, "u7", 7 + _) == CHROME:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("a restarted collector did not load the shared counts")
    # what the table holds: 16-byte digests, never a text or a user id
    rows = await store.pool.fetch("SELECT value_digest, user_digest FROM free_text_users")
    assert rows and all(len(r["value_digest"]) == 16 and len(r["user_digest"]) == 16 for r in rows)
    assert len({r["value_digest"] for r in rows}) == 1  # one text, at most k users each replica counted


def test_page_mining_never_makes_an_invariant_of_a_masked_text() -> None:
    """Every session shows the same masked heading (one text, seen by fewer than k users each time
    it was recorded): steady in count and support, still never page structure."""
    sanitizer = Sanitizer(PSEUDONYM_KEY, SanitizationConfig(free_text_min_users=1000))
    sessions = []
    for i in range(20):
        event = sanitised(sanitizer, f"user{i}", {**view(NAME, 0), "url": "https://shop.example/account"})
        event["page"]["headings"].append("Account")
        sessions.append(
            Session.model_validate(
                {
                    "source": "shop",
                    "session_id": f"s{i}",
                    "user_id": f"user{i}",
                    "events": [{**event, "session_id": f"s{i}"}],
                }
            )
        )
    first = sessions[0].events[0]
    assert isinstance(first, PageView) and first.page is not None and is_masked(first.page.headings[0])
    miner = PageMiner(RouteTemplater.learn([]), MiningOptions())
    for s in sessions:
        miner.add(s)
    structure = [inv for inv in miner.invariants() if inv.kind == "page_structure"]
    items = [item for inv in structure for item in inv.params["items"]]
    assert "Account" in items  # the miner saw the pages
    assert not any(MASK_MARK in item for item in items)


async def test_trodden_ingest_runs_share_the_counts(store: Store, tmp_path: Path) -> None:
    """Each `trodden ingest` is a new process: the counts it loads and writes are the database's."""
    titles = []
    for i in range(7):
        path = tmp_path / f"u{i}.jsonl"
        path.write_bytes(
            orjson.dumps({"session_id": f"imp-{i}", "user_id": f"importer{i}", "events": [view(CHROME, 0)]})
        )
        [report] = await ingest_files(store, "shop", [path], sanitizer=Sanitizer(PSEUDONYM_KEY))  # a fresh process
        assert report.error is None and report.events == 1, report
        titles.append(await store.pool.fetchval("SELECT data->>'title' FROM events WHERE session_id = $1", f"imp-{i}"))
    assert all(is_masked(t) for t in titles[:4]) and titles[5:] == [CHROME, CHROME]
