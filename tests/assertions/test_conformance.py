"""One meaning for each assertion: every (assertion, response) case gets the same verdict from
every consumer of `trodden.assertions`:

- replay (`trodden replay`'s engine, over real HTTP against a real server),
- the exported pytest files (`trodden export --format pytest`, run by pytest in a subprocess
  against the same server),
- the generator's `drop_contradicted` (the same responses as a recording of the test).

Timing kinds are the one documented exemption (replay settles them over a run; a recording and a
single exported test say nothing about replay timing): `test_only_timing_is_exempt` pins that.
"""

from __future__ import annotations

import asyncio
import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from trodden.assertions import KINDS, make_assertion
from trodden.models.events import NetworkRequest
from trodden.models.suite import AuthProfile, HttpRequest, HttpStep, Suite, TestCase, ValueFrom
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.synthesis.export import export_pytest
from trodden.synthesis.generate import Recording, drop_contradicted
from trodden.synthesis.routes import RouteTemplater


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON; a str is sent as text/plain
    path: str = ""  # the step's own path (temporal cases name several)


@dataclass
class Case:
    name: str
    assertion: dict[str, Any]  # kind, params, condition, field, other (endpoint: the first response's)
    responses: list[Response]
    fails: bool
    authorized: bool = False  # the requests carry an Authorization header
    profile: bool = False  # the test replays under an auth profile (a header that is not Authorization)
    extra: dict[str, Any] = field(default_factory=dict)


def ok(body: Any, status: int = 200) -> list[Response]:
    return [Response(status, body)]


CASES = [
    # status, and its conditions (the auth condition is honoured by every consumer)
    Case("status-in-class", {"kind": "status", "params": {"class": "2xx"}}, ok({}, 201), False),
    Case("status-out-of-class", {"kind": "status", "params": {"class": "2xx"}}, ok({}, 500), True),
    Case("status-listed", {"kind": "status", "params": {"values": [200, 404]}}, ok({}, 404), False),
    Case(
        "status-user-rule-anonymous-call",
        {"kind": "status", "params": {"class": "2xx"}, "condition": {"auth": "user"}},
        ok({}, 401),
        False,
    ),
    Case(
        "status-user-rule-user-call",
        {"kind": "status", "params": {"class": "2xx"}, "condition": {"auth": "user"}},
        ok({}, 401),
        True,
        authorized=True,
    ),
    Case(
        "status-user-rule-profile",
        {"kind": "status", "params": {"class": "2xx"}, "condition": {"auth": "user"}},
        ok({}, 401),
        True,
        profile=True,
    ),
    Case(
        "status-anon-rule-user-call",
        {"kind": "status", "params": {"class": "4xx"}, "condition": {"auth": "anon"}},
        ok({}, 200),
        False,
        authorized=True,
    ),
    Case(
        "status-anon-rule-anonymous-call",
        {"kind": "status", "params": {"class": "4xx"}, "condition": {"auth": "anon"}},
        ok({}, 200),
        True,
    ),
    Case(
        "status-unknown-condition",
        {"kind": "status", "params": {"class": "2xx"}, "condition": {"region": "eu"}},
        ok({}, 500),
        False,
    ),
    # fields
    Case(
        "present-null",
        {"kind": "present", "field": "/u/email", "condition": {"status": 200}},
        ok({"u": {"email": None}}),
        False,
    ),
    Case(
        "present-missing", {"kind": "present", "field": "/u/email", "condition": {"status": 200}}, ok({"u": {}}), True
    ),
    Case("present-no-parent", {"kind": "present", "field": "/u/email"}, ok({}), False),
    Case("present-every-item", {"kind": "present", "field": "/items/*/id"}, ok({"items": [{"id": 1}, {}]}), True),
    Case("present-text-body", {"kind": "present", "field": "/u"}, ok("plain text"), True),
    Case("present-other-status", {"kind": "present", "field": "/x", "condition": {"status": 200}}, ok({}, 404), False),
    Case("not-null-absent", {"kind": "not_null", "field": "/u/email"}, ok({"u": {}}), False),
    Case("not-null-null", {"kind": "not_null", "field": "/u/email"}, ok({"u": {"email": None}}), True),
    Case("type-wrong", {"kind": "type", "field": "/p", "params": {"type": "number"}}, ok({"p": "1"}), True),
    Case(
        "type-integer-is-a-number", {"kind": "type", "field": "/p", "params": {"type": "number"}}, ok({"p": 3}), False
    ),
    Case("type-absent", {"kind": "type", "field": "/p", "params": {"type": "number"}}, ok({}), False),
    Case(
        "type-nullable",
        {"kind": "type", "field": "/p", "params": {"type": "string", "types": ["string", "null"]}},
        ok({"p": None}),
        False,
    ),
    Case(
        "type-every-item",
        {"kind": "type", "field": "/items/*/id", "params": {"type": "integer"}},
        ok({"items": [{"id": 1}, {"id": "2"}]}),
        True,
    ),
    Case(
        "format-date", {"kind": "format", "field": "/d", "params": {"format": "date"}}, ok({"d": "2026-01-01"}), False
    ),
    Case("format-not-uuid", {"kind": "format", "field": "/id", "params": {"format": "uuid"}}, ok({"id": "nope"}), True),
    Case("format-short-hex", {"kind": "format", "field": "/h", "params": {"format": "hex"}}, ok({"h": "cafe"}), False),
    Case(
        "value-set-other", {"kind": "value_set", "field": "/s", "params": {"values": ["a", "b"]}}, ok({"s": "c"}), True
    ),
    Case(
        "value-set-true-is-not-one",
        {"kind": "value_set", "field": "/s", "params": {"values": [1]}},
        ok({"s": True}),
        True,
    ),
    Case(
        "value-set-null-listed",
        {"kind": "value_set", "field": "/s", "params": {"values": ["a", None]}},
        ok({"s": None}),
        False,
    ),
    Case("range-outside", {"kind": "range", "field": "/n", "params": {"min": 1, "max": 5}}, ok({"n": 9}), True),
    Case("range-not-a-number", {"kind": "range", "field": "/n", "params": {"min": 1, "max": 5}}, ok({"n": "3"}), True),
    Case("range-inside", {"kind": "range", "field": "/n", "params": {"min": 1, "max": 5}}, ok({"n": 3.5}), False),
    Case(
        "error-shape-changed",
        {
            "kind": "error_shape",
            "condition": {"status": 400},
            "params": {"keys": ["/error/code"], "shape": {"/error/code": "string"}},
        },
        ok({"message": "m"}, 400),
        True,
    ),
    Case(
        "error-shape-kept",
        {
            "kind": "error_shape",
            "condition": {"status": 400},
            "params": {"keys": ["/error/code"], "values": {"/error/code": ["E1"]}},
        },
        ok({"error": {"code": "E1"}}, 400),
        False,
    ),
    Case(
        "error-shape-new-code",
        {
            "kind": "error_shape",
            "condition": {"status": 400},
            "params": {"keys": ["/error/code"], "values": {"/error/code": ["E1"]}},
        },
        ok({"error": {"code": "E2"}}, 400),
        True,
    ),
    # order of calls in one test
    Case("followed-by-kept", {"kind": "followed_by", "other": "b"}, [Response(path="a"), Response(path="b")], False),
    Case(
        "followed-by-broken",
        {"kind": "followed_by", "other": "a"},
        [Response(path="a"), Response(path="b")],
        True,
        extra={"endpoint": "b"},
    ),
    Case(
        "preceded-by-kept",
        {"kind": "preceded_by", "other": "a"},
        [Response(path="a"), Response(path="b")],
        False,
        extra={"endpoint": "b"},
    ),
    Case("preceded-by-broken", {"kind": "preceded_by", "other": "b"}, [Response(path="a"), Response(path="b")], True),
    Case("co-occurs-kept", {"kind": "co_occurs", "other": "b"}, [Response(path="a"), Response(path="b")], False),
]


def _endpoint(case: Case, path: str) -> str:
    return f"GET /c/{case.name}/{path}"


def _paths(case: Case) -> list[str]:
    return [r.path or f"s{i}" for i, r in enumerate(case.responses)]


def _assertion(case: Case) -> Any:
    data = {**case.assertion}
    first = case.extra.get("endpoint", _paths(case)[0])
    data |= {"id": f"a-{case.name}", "endpoint": _endpoint(case, first), "support": 10, "confidence": 1.0}
    if "other" in data:
        data["other"] = _endpoint(case, data["other"])
    return make_assertion(data)


def _suite() -> Suite:
    tests = []
    for case in CASES:
        headers = {"Authorization": "Bearer recorded"} if case.authorized else {}
        steps = [
            HttpStep(
                id=f"s{i + 1}",
                endpoint=_endpoint(case, path),
                request=HttpRequest(method="GET", url=f"{{{{origin}}}}/c/{case.name}/{path}", headers=headers),
            )
            for i, path in enumerate(_paths(case))
        ]
        tests.append(
            TestCase(
                id=f"t-{case.name}",
                name=case.name,
                type="http",
                session_id=case.name,
                steps=list(steps),
                auth_profile="token" if case.profile else None,
            )
        )
    profile = AuthProfile(name="token", kind="headers", headers={"X-Token": ValueFrom(value="t0k3n")})
    return Suite(
        name="conformance",
        revision=1,
        source="conformance",
        created_at="2026-01-01T00:00:00+00:00",
        tests=tests,
        assertions=[_assertion(c) for c in CASES],
        auth_profiles=[profile],
    )


def _app() -> web.Application:
    by_path = {f"/c/{c.name}/{path}": r for c in CASES for path, r in zip(_paths(c), c.responses, strict=True)}

    async def answer(request: web.Request) -> web.Response:
        r = by_path[request.path]
        if isinstance(r.body, str):
            return web.Response(status=r.status, text=r.body, content_type="text/plain")
        return web.Response(status=r.status, body=orjson.dumps(r.body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/c/{case}/{step}", answer)
    return app


def _recordings() -> list[Recording]:
    out = []
    for case in CASES:
        requests = [
            NetworkRequest.model_validate(
                {
                    "kind": "request",
                    "session_id": case.name,
                    "seq": i,
                    "ts": 1000.0 + i,
                    "method": "GET",
                    "request_url": f"http://shop.test/c/{case.name}/{path}",
                    "status": r.status,
                    "duration_ms": 5,
                    "response_body": r.body,
                    "request_headers": {"Authorization": "Bearer recorded"} if case.authorized else {},
                    "response_headers": {
                        "Content-Type": "text/plain" if isinstance(r.body, str) else "application/json"
                    },
                }
            )
            for i, (path, r) in enumerate(zip(_paths(case), case.responses, strict=True))
        ]
        out.append(Recording(case.name, requests, "token" if case.profile else None))
    return out


async def _exported_outcomes(folder: Path, target: str) -> dict[str, str]:
    report = folder / "junit.xml"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        str(folder),
        "--target",
        target,
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        f"--junitxml={report}",
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "TRODDEN_TIMEOUT_S": "5"},
    )
    out, _ = await proc.communicate()
    assert proc.returncode in (0, 1), out.decode()
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.attrib["name"].removeprefix("test_t_").replace("_", "-")
        outcomes[name] = (
            "failed"
            if case.find("failure") is not None or case.find("error") is not None
            else ("skipped" if case.find("skipped") is not None else "passed")
        )
    return outcomes


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bool]]:
    """Per consumer, per case: did it fail?"""
    suite = _suite()
    folder = tmp_path_factory.mktemp("exported")
    export_pytest(suite, folder)

    async def run() -> dict[str, dict[str, bool]]:
        runner = web.AppRunner(_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        target = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        try:
            report = await replay_suite(None, suite, target, ReplayOptions(retries=0))
            exported = await _exported_outcomes(folder, target)
        finally:
            await runner.cleanup()
        return {
            "replay": {r.test_id.removeprefix("t-"): r.outcome == "failed" for r in report.results},
            "exported pytest": {name: outcome == "failed" for name, outcome in exported.items()},
        }

    out = asyncio.run(run())
    _, dropped = drop_contradicted(list(suite.assertions), _recordings(), RouteTemplater())
    dropped_ids = {d.id for d in dropped}
    out["generator"] = {c.name: f"a-{c.name}" in dropped_ids for c in CASES}
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("consumer", ["replay", "exported pytest", "generator"])
def test_every_consumer_gives_the_same_verdict(verdicts: dict[str, dict[str, bool]], consumer: str, case: Case) -> None:
    assert verdicts[consumer][case.name] is case.fails, f"{consumer} on {case.name}"


def test_every_kind_has_a_case() -> None:
    """Every kind judged on HTTP exchanges has a case here; the page kinds are judged on what a
    browser observed of a page, which tests/replay/test_replay_pages.py covers."""
    covered = {c.assertion["kind"] for c in CASES}
    exempt = {name for name, cls in KINDS.items() if cls.about_timing or cls.on_pages}
    assert set(KINDS) - covered == exempt


def test_only_timing_is_exempt() -> None:
    """The HTTP kinds replay judges that the generator and the exported tests leave alone."""
    assert {name for name, cls in KINDS.items() if cls.about_timing and not cls.on_pages} == {"latency"}
