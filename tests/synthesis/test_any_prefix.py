"""APIs under any prefix (`/v1/`, `/api/v2/`, `/rest/`, none) become journeys, tests and passing
replays; the collector's own traffic is recognised by what it is (its exact endpoints on its own
origin, or carrying the tag's key), never by a path prefix; a generate that makes no test from
selected sessions is an error with its reason."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from synth_recorder import Recorder

from trodden.models.events import Session
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.store import Store
from trodden.synthesis import db
from trodden.synthesis.api import EmptySuite, generate_suite, select_sessions
from trodden.synthesis.generate import GenerateOptions
from trodden.synthesis.steps import SessionSteps, is_collector_request, raw_steps

COLLECTOR = "http://collector.test:4318"
PREFIXES = ["/v1", "/api/v2", "/rest", ""]


def notes_app(prefix: str, *, broken: bool = False) -> web.Application:
    """A notes API under `prefix`, with its own `{prefix}/config` and `{prefix}/logs`: under `/v1`
    those are the collector's endpoint paths, on another origin."""
    notes: dict[str, dict[str, Any]] = {}

    async def config(_r: web.Request) -> web.Response:
        return web.json_response({"page_size": 20, "features": ["tags"]})

    async def logs(_r: web.Request) -> web.Response:
        return web.json_response({"accepted": True}, status=202)

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        nid = str(uuid.uuid4())
        notes[nid] = {"id": nid, "title": body["title"], "tags": body.get("tags", [])}
        return web.json_response(notes[nid], status=201)

    async def read(request: web.Request) -> web.Response:
        note = notes.get(request.match_info["nid"])
        if note is None:
            return web.json_response({"error": "not_found"}, status=404)
        return web.json_response({**note, "title": None} if broken else note)

    app = web.Application()
    app.router.add_get(f"{prefix}/config", config)
    app.router.add_post(f"{prefix}/logs", logs)
    app.router.add_post(f"{prefix}/notes", create)
    app.router.add_get(f"{prefix}/notes/{{nid}}", read)
    return app


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def tag_traffic(session_id: str, seq: int) -> list[dict[str, Any]]:
    """What a HAR of the page holds besides the app's calls: the tag's config fetch and beacons."""
    base = {
        "kind": "request",
        "session_id": session_id,
        "initiator": "fetch",
        "duration_ms": 3.0,
        "ts": 1_767_225_600_000.0 + seq,
    }
    return [
        {**base, "seq": seq, "method": "GET", "request_url": f"{COLLECTOR}/rum.js", "status": 200},
        {**base, "seq": seq + 1, "method": "GET", "request_url": f"{COLLECTOR}/v1/config?key=k1", "status": 200},
        {**base, "seq": seq + 2, "method": "POST", "request_url": f"{COLLECTOR}/v1/rum?key=k1", "status": 200},
        {**base, "seq": seq + 3, "method": "POST", "request_url": f"{COLLECTOR}/v1/logs", "status": 200},
    ]


async def record(base: str, prefix: str, n: int) -> list[Session]:
    import aiohttp

    rng = random.Random(5)
    out: list[Session] = []
    async with aiohttp.ClientSession() as http:
        for i in range(n):
            r = Recorder(base, f"s{i:03d}", http)
            await r.call("GET", f"{prefix}/config")
            note = await r.call("POST", f"{prefix}/notes", {"title": f"note {rng.randint(1, 5)}", "tags": ["a"]})
            await r.call("GET", f"{prefix}/notes/{note['id']}")
            if i % 3 == 0:
                await r.call("POST", f"{prefix}/logs", {"line": "hello"})
            r.events.extend(tag_traffic(r.sid, len(r.events)))
            out.append(r.session())
    return out


def test_the_collector_is_its_exact_endpoints_on_its_own_origin() -> None:
    own = frozenset({COLLECTOR})
    assert is_collector_request(f"{COLLECTOR}/v1/rum?key=k")
    assert is_collector_request("https://shop.test/v1/config?key=k")  # the tag's keyed fetch, wherever it is
    assert is_collector_request(f"{COLLECTOR}/v1/traces", own)
    assert not is_collector_request(f"{COLLECTOR}/v1/traces")  # an unknown origin without the key: the app's
    assert not is_collector_request("https://api.test/v1/config", own)
    assert not is_collector_request(f"{COLLECTOR}/v1/rumours", own)
    assert not is_collector_request(f"{COLLECTOR}/v1/rum/extra", own)
    assert not is_collector_request("https://api.test/v1/notes/12?key=abc", own)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_an_api_under_any_prefix_becomes_tests_that_replay(store: Store, prefix: str) -> None:
    async with serve(notes_app(prefix)) as recorded:
        sessions = await record(recorded, prefix, 12)
    from trodden.synthesis.corpus import write_sessions

    await write_sessions(store, "notes", sessions)
    steps = dict([x async for x in db.iter_session_steps(store, "notes")])
    assert [s[2] for s in steps["s000"]] == [
        f"{prefix}/config",
        f"{prefix}/notes",
        steps["s000"][2][2],
        f"{prefix}/logs",
    ]
    assert steps["s000"] == raw_steps(sessions[0].events)  # the row path and the model path agree
    assert not any(
        s[2].startswith(("/v1/rum", "/rum.js")) or (s[2] == "/v1/config" and prefix != "/v1")
        for st in steps.values()
        for s in st
    )

    selection = await select_sessions(store, "notes")
    assert selection.stats.sessions == 12 and selection.sessions
    suite = await generate_suite(store, "notes", "notes", options=GenerateOptions(browser=False))
    assert suite.tests, "an API under this prefix must produce tests"
    endpoints = {s.endpoint for t in suite.tests for s in t.steps}  # type: ignore[union-attr]
    assert f"POST {prefix}/notes" in endpoints and f"GET {prefix}/config" in endpoints
    assert not any("/v1/rum" in e for e in endpoints)
    assert {a.endpoint for a in suite.assertions} >= {f"GET {prefix}/notes/{{uuid}}"}

    async with serve(notes_app(prefix)) as fresh:
        clean = await replay_suite(None, suite, fresh, ReplayOptions(allow_unsafe_on_origin=True, retries=0))
    assert clean.counts.passed == clean.counts.total > 0, [r.failures for r in clean.results]
    async with serve(notes_app(prefix, broken=True)) as broken:
        bad = await replay_suite(None, suite, broken, ReplayOptions(allow_unsafe_on_origin=True, retries=0))
    assert bad.has_regressions


def _row_steps(session: Session) -> Callable[[], list[Any]]:
    def run() -> list[Any]:
        acc = SessionSteps()
        for ev in session.events:
            doc = ev.model_dump(mode="json")
            acc.add(doc["kind"], doc.get("url"), doc)
        return acc.finish()

    return run


async def test_generate_without_a_test_is_an_error_with_its_reason(store: Store) -> None:
    from trodden.synthesis.corpus import write_sessions

    only_tag = [
        Session.model_validate({"source": "tagonly", "session_id": f"t{i}", "events": tag_traffic(f"t{i}", 0)})
        for i in range(3)
    ]
    assert _row_steps(only_tag[0])() == []
    await write_sessions(store, "tagonly", only_tag)
    await select_sessions(store, "tagonly")
    with pytest.raises(EmptySuite, match=r"1 selected session\(s\) of 3 yielded 0 tests.*0 had an API request"):
        await generate_suite(store, "tagonly", "tagonly")
    assert await store.pool.fetchval("SELECT count(*) FROM suite_revisions WHERE suite = 'tagonly'") == 0
