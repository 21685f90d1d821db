"""`trodden ingest`: HAR, OTLP JSON and JSON Lines, recognised by content; and reading sessions back."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from trodden.collector.ingest import ingest_files
from trodden.collector.partitions import ensure_partition
from trodden.collector.sanitize import Sanitizer
from trodden.collector.sessions import load_sessions
from trodden.models.events import NetworkRequest, PageView
from trodden.store import Store

from .conftest import PSEUDONYM_KEY, run_trodden


def _entry(
    page: str | None,
    t: str,
    method: str,
    url: str,
    status: int,
    *,
    req: Any = None,
    res: Any = None,
    headers: list[dict[str, str]] | None = None,
    mime: str = "application/json",
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "startedDateTime": t,
        "time": 42.0,
        "request": {"method": method, "url": url, "headers": headers or [], "cookies": [], "queryString": []},
        "response": {
            "status": status,
            "headers": [{"name": "Content-Type", "value": mime}],
            "content": {"mimeType": mime, "text": orjson.dumps(res).decode() if res is not None else ""},
        },
    }
    if page:
        entry["pageref"] = page
    if req is not None:
        entry["request"]["postData"] = {"mimeType": "application/json", "text": orjson.dumps(req).decode()}
    return entry


def har_doc(with_pages: bool = True) -> dict[str, Any]:
    basic = base64.b64encode(b"carol@example.net:pa55word!").decode()
    entries = [
        _entry(
            "p1" if with_pages else None,
            "2024-05-01T10:00:00.000Z",
            "GET",
            "http://127.0.0.1:9/",
            200,
            mime="text/html",
        ),
        _entry(
            "p1" if with_pages else None,
            "2024-05-01T10:00:01.000Z",
            "POST",
            "http://127.0.0.1:9/api/login",
            200,
            req={"email": "carol@example.net", "password": "pa55word!"},
            res={"token": "tok_abcdef123456"},
            headers=[{"name": "Authorization", "value": f"Basic {basic}"}],
        ),
        _entry(
            "p2" if with_pages else None,
            "2024-05-01T10:00:05.000Z",
            "GET",
            "http://127.0.0.1:9/api/orders",
            200,
            res={"orders": [{"id": 7}]},
            headers=[{"name": "Authorization", "value": "Bearer tok_abcdef123456"}],
        ),
    ]
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    if with_pages:
        log["pages"] = [
            {"id": "p1", "title": "Home", "startedDateTime": "2024-05-01T10:00:00.000Z", "pageTimings": {}},
            {"id": "p2", "title": "Orders", "startedDateTime": "2024-05-01T10:00:05.000Z", "pageTimings": {}},
        ]
    return {"log": log}


async def test_har_pages_become_sessions_and_reimport_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "recording.har"
    path.write_bytes(orjson.dumps(har_doc()))
    sanitizer = Sanitizer(PSEUDONYM_KEY)
    [report] = await ingest_files(store, "har-src", [path], sanitizer=sanitizer)
    assert (report.format, report.sessions, report.events, report.error) == ("har", 2, 5, None)
    [again] = await ingest_files(store, "har-src", [path], sanitizer=sanitizer)
    assert again.error is None
    assert await store.pool.fetchval("SELECT count(*) FROM events") == 5
    sessions = await load_sessions(store, "har-src")
    assert len(sessions) == 2
    first = sessions[0]
    assert isinstance(first.events[0], PageView) and first.events[0].title == "Home"
    login = first.events[2]
    assert isinstance(login, NetworkRequest) and login.method == "POST" and login.status == 200
    # Sanitised, and still consistent: the token the login returned is the one the next request sends.
    token = login.response_body["token"]
    assert token != "tok_abcdef123456" and len(token) == len("tok_abcdef123456") and token.startswith("tok_")
    orders = sessions[1].events[1]
    assert isinstance(orders, NetworkRequest)
    assert orders.request_headers["authorization"] == f"Bearer {token}"
    assert login.request_body["email"] != "carol@example.net" and "@" in login.request_body["email"]
    user, _, password = base64.b64decode(login.request_headers["authorization"].split()[1]).decode().partition(":")
    assert user == login.request_body["email"]  # the same person, the same pseudonym
    assert password == login.request_body["password"] != "pa55word!"


async def test_har_without_pages_is_one_session(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "nopages.har"
    path.write_bytes(orjson.dumps(har_doc(with_pages=False)))
    [report] = await ingest_files(store, "s", [path], sanitizer=Sanitizer(PSEUDONYM_KEY))
    assert (report.sessions, report.events) == (1, 4)


async def test_jsonl_and_otlp_files(store: Store, tmp_path: Path) -> None:
    lines = [
        {
            "session_id": "j1",
            "user_id": "u1",
            "events": [
                {"kind": "page_view", "seq": 0, "ts": 1_700_000_000_000, "url": "http://127.0.0.1/"},
                {"kind": "custom", "seq": 1, "ts": 1_700_000_000_100, "name": "signup", "properties": {"plan": "pro"}},
                {"kind": "click", "seq": 2, "ts": 1_700_000_000_200},
            ],
        },  # no target: refused
        {
            "session_id": "j2",
            "events": [{"kind": "vital", "seq": 0, "ts": 1_700_000_000_000, "name": "LCP", "value": 900}],
        },
    ]
    jsonl = tmp_path / "beacons.jsonl"
    jsonl.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    otlp = tmp_path / "spans.json"
    otlp.write_bytes(
        orjson.dumps(
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        "traceId": "0af7651916cd43dd8448eb211c80319c",
                                        "spanId": "b7ad6b7169203331",
                                        "name": "GET /",
                                        "startTimeUnixNano": "1700000000000000000",
                                        "endTimeUnixNano": "1700000000001000000",
                                        "attributes": [{"key": "session.id", "value": {"stringValue": "j1"}}],
                                    }
                                ]
                            }
                        ]
                    }
                ]
            }
        )
    )
    reports = await ingest_files(store, "files", [jsonl, otlp], sanitizer=Sanitizer(PSEUDONYM_KEY))
    assert (reports[0].format, reports[0].sessions, reports[0].events) == ("jsonl", 2, 3)
    assert len(reports[0].refused) == 1 and reports[0].refused[0]["seq"] == 2
    assert "target" in reports[0].refused[0]["reason"]
    assert (reports[1].format, reports[1].spans, reports[1].sessions) == ("otlp-json", 1, 1)
    [j1] = await load_sessions(store, "files", session_ids=["j1"])
    assert j1.user_id == Sanitizer(PSEUDONYM_KEY).user_id("u1")  # a user id is stored as its pseudonym
    assert [e.kind for e in j1.events] == ["page_view", "custom"]
    since = await load_sessions(store, "files", datetime(2030, 1, 1, tzinfo=UTC))
    assert since == []


async def test_cli_reports_per_file_and_exits_2_on_unreadable(dsn: str, tmp_path: Path) -> None:
    good = tmp_path / "good.har"
    good.write_bytes(orjson.dumps(har_doc()))
    bad = tmp_path / "notes.txt"
    bad.write_text("these are not sessions\n")
    proc = await run_trodden(
        "ingest",
        "--source",
        "cli",
        "--dsn",
        dsn,
        "--json",
        str(good),
        str(bad),
        str(tmp_path / "missing.har"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 2, err
    reports = orjson.loads(out)
    assert [r["format"] for r in reports] == ["har", "unknown", "unknown"]
    assert reports[0]["events"] == 5 and reports[1]["error"] and "cannot read" in reports[2]["error"]
    last_line = err.decode().strip().splitlines()[-1]
    assert last_line.startswith("error: ") and "notes.txt" in last_line
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM events WHERE source = 'cli'") == 5
    finally:
        await conn.close()


async def test_partition_created_after_rows_landed_in_the_default(store: Store) -> None:
    day = date(2020, 2, 29)
    async with store.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO events (source, session_id, seq, ts, kind, data) VALUES ('p', 's', 0, $1, 'click', '{}')",
            datetime(2020, 2, 29, 12, tzinfo=UTC),
        )
        assert await ensure_partition(conn, day) is True
        assert await ensure_partition(conn, day) is False
        assert await conn.fetchval("SELECT count(*) FROM events_20200229") == 1
        assert await conn.fetchval("SELECT count(*) FROM events_default") == 0
        assert await conn.fetchval("SELECT count(*) FROM events") == 1


async def test_malformed_har_is_reported_not_raised(store: Store, tmp_path: Path) -> None:
    broken = har_doc()
    broken["log"]["entries"][1]["startedDateTime"] = "yesterday-ish"
    broken["log"]["entries"][2]["request"] = ["not", "an", "object"]
    path = tmp_path / "broken.har"
    path.write_bytes(orjson.dumps(broken))
    [report] = await ingest_files(store, "s", [path], sanitizer=Sanitizer(PSEUDONYM_KEY))
    assert report.error is not None and report.error.startswith("malformed HAR")
    del broken["log"]["entries"][2]
    path.write_bytes(orjson.dumps(broken))
    [report] = await ingest_files(store, "s", [path], sanitizer=Sanitizer(PSEUDONYM_KEY))
    assert report.error is None and report.events == 2  # the page view and the readable request
    assert len(report.refused) == 1 and "ts" in report.refused[0]["reason"]


async def test_retention_drops_old_partitions(store: Store) -> None:
    from trodden.collector.partitions import drop_partitions_before

    async with store.pool.acquire() as conn:
        for d in (date(2021, 3, 1), date(2021, 3, 2)):
            await ensure_partition(conn, d)
            await conn.execute(
                "INSERT INTO events (source, session_id, seq, ts, kind, data) VALUES ('p', 's', $1, $2, 'click', '{}')",
                d.day,
                datetime(d.year, d.month, d.day, 9, tzinfo=UTC),
            )
        await conn.execute(
            "INSERT INTO events (source, session_id, seq, ts, kind, data) VALUES ('p', 's', 9, $1, 'click', '{}')",
            datetime(2019, 1, 1, tzinfo=UTC),
        )
        assert await drop_partitions_before(conn, date(2021, 3, 2)) == ["events_20210301"]
        assert await conn.fetchval("SELECT to_regclass('events_20210301')") is None
        assert [r["seq"] for r in await conn.fetch("SELECT seq FROM events ORDER BY seq")] == [2]
