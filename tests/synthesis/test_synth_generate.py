"""Test generation: correlation makes recorded flows work against a fresh deployment (proved with a
real aiohttp server and the exported pytest files run in a subprocess), and mined assertions catch
planted regressions there."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

from synth_miniapp import make_app, start
from synth_recorder import record_checkout

from trodden.collector.sanitize import Sanitizer
from trodden.models.events import NetworkRequest, Session
from trodden.models.suite import HttpStep, Suite
from trodden.store import Store
from trodden.synthesis.api import generate_suite, select_sessions
from trodden.synthesis.corpus import write_sessions
from trodden.synthesis.correlate import correlate
from trodden.synthesis.export import export_json, export_pytest
from trodden.synthesis.generate import GenerateOptions, SelectedInput, build_suite
from trodden.synthesis.mining import build_miner
from trodden.synthesis.selection import SelectOptions


def req(
    seq: int,
    method: str,
    url: str,
    status: int,
    *,
    body: object = None,
    resp: object = None,
    headers: dict[str, str] | None = None,
    resp_headers: dict[str, str] | None = None,
    sid: str = "s",
) -> NetworkRequest:
    return NetworkRequest.model_validate(
        {
            "kind": "request",
            "session_id": sid,
            "seq": seq,
            "ts": 1000.0 + seq,
            "method": method,
            "request_url": url,
            "status": status,
            "duration_ms": 5,
            "request_body": body,
            "response_body": resp,
            "request_headers": headers or {},
            "response_headers": resp_headers or {},
        }
    )


def test_values_a_response_produced_become_extractions_and_templates() -> None:
    token = "9c1f0e2d3b4a5968778695a4b3c2d1e0"
    reqs = [
        req(0, "POST", "https://shop.test/api/login", 200, body={"email": "a@b.co"}, resp={"token": token}),
        req(
            1,
            "POST",
            "https://shop.test/api/orders",
            201,
            resp={"order": {"id": 48213}},
            headers={"Authorization": f"Bearer {token}"},
            resp_headers={"Location": "/api/orders/48213", "ETag": '"v1-abc"', "X-CSRF-Token": "csrf-0123456789"},
        ),
        req(
            2,
            "PATCH",
            "https://shop.test/api/orders/48213?expand=items",
            200,
            body={"note": "hi", "order_id": 48213},
            headers={
                "If-Match": '"v1-abc"',
                "X-CSRF-Token": "csrf-0123456789",
                "Cookie": "sid=1",
                "Authorization": f"Bearer {token}",
            },
        ),
    ]
    c = correlate(reqs)
    assert c.requests[0].request.body == {"email": "{{email}}"} and c.variables == {"email": "a@b.co"}
    assert c.requests[1].request.headers == {"Authorization": "Bearer {{token}}"}
    assert c.requests[2].request.url == "{{origin}}/api/orders/{{id}}?expand=items"
    assert c.requests[2].request.body == {"note": "hi", "order_id": "{{id}}"}
    assert c.requests[2].request.headers == {
        "If-Match": "{{etag}}",
        "X-CSRF-Token": "{{x_csrf_token}}",
        "Authorization": "Bearer {{token}}",
    }
    assert [(e.var, e.source, e.path) for e in c.requests[0].extract] == [("token", "json", "/token")]
    assert {(e.var, e.source, e.path) for e in c.requests[1].extract} == {
        ("id", "json", "/order/id"),
        ("etag", "header", "etag"),
        ("x_csrf_token", "header", "x-csrf-token"),
    }
    assert c.auth_headers == {}


def test_credentials_from_before_the_session_go_to_an_auth_profile() -> None:
    reqs = [
        req(
            0,
            "GET",
            "https://shop.test/api/me",
            200,
            headers={"Authorization": "Bearer preexisting-token"},
            resp={"email": "x@y.z"},
        )
    ]
    c = correlate(reqs)
    assert c.auth_headers == {"Authorization": "Bearer preexisting-token"}
    assert c.requests[0].request.headers == {}
    s = Session(source="t", session_id="s", events=reqs)
    suite = build_suite("t", "t", [SelectedInput(s)], build_miner([s]))
    assert suite.tests[0].auth_profile == "session-auth"
    assert suite.auth_profiles[0].headers["Authorization"].env == "TRODDEN_AUTH_AUTHORIZATION"


async def _run_exported(folder: Path, target: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        str(folder),
        "--target",
        target,
        "-q",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "TRODDEN_TIMEOUT_S": "4"},
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_recorded_flows_replay_against_a_fresh_server_and_catch_regressions(tmp_path: Path) -> None:
    runner_a, recorded_at = await start(make_app())
    rng = random.Random(3)
    try:
        sessions = [
            await record_checkout(recorded_at, f"m{i}", rng, coupon=("SAVE10" if i % 2 else "OLD5")) for i in range(6)
        ]
    finally:
        await runner_a.cleanup()
    miner = build_miner(sessions)
    suite = build_suite("mini", "mini", [SelectedInput(s, ["test"]) for s in sessions[:2]], miner)
    test = suite.tests[0]
    steps = [s for s in test.steps if isinstance(s, HttpStep)]
    recorded_cart = sessions[0].events[3].response_body["cart_id"]  # type: ignore[union-attr]
    assert all(recorded_cart not in s.request.url for s in steps)
    assert any("{{cart_id}}" in s.request.url for s in steps)
    assert any(e.var == "order_id" for s in steps for e in s.extract)
    assert all(s.unsafe == (s.request.method != "GET") for s in steps)
    assert {a.kind for a in suite.assertions} >= {"status", "not_null", "format", "error_shape", "followed_by"}
    # the coupon's answer is the same every time for the same code, whatever the (generated) cart id
    coupon = next(
        s
        for t in suite.tests
        for s in t.steps
        if isinstance(s, HttpStep) and "coupon" in s.endpoint and s.expect.status == 200
    )
    assert coupon.expect.values.get("/discount_pct") == 10
    assert "/total" not in coupon.expect.values  # depends on the cart

    export_pytest(suite, tmp_path / "out")
    (path,) = export_json(suite, tmp_path / "json")
    assert Suite.model_validate_json(path.read_text()).tests == suite.tests

    fresh, fresh_url = await start(make_app())  # new ids everywhere
    try:
        code, out = await _run_exported(tmp_path / "out", fresh_url)
    finally:
        await fresh.cleanup()
    assert code == 0, out
    assert "2 passed" in out

    for broken, expected in [
        ("null_price", "/price is null"),  # the mined not_null assertion
        ("coupon_error", "/error/code missing"),  # the mined error structure of the coupon's 409
    ]:
        v2, v2_url = await start(make_app(frozenset({broken})))
        try:
            code, out = await _run_exported(tmp_path / "out", v2_url)
        finally:
            await v2.cleanup()
        assert code == 1, out
        assert expected in out, out

    code, out = await _run_exported(tmp_path / "out", recorded_at)  # the recorded origin: refused
    assert code == 2 and "--allow-recorded-origin" in out


def _browser_session(origin: str) -> Session:
    """What rum.js records on the mini shop's pages: home, click a product, add it to the cart."""
    cart = "0b6e1c4e-8a51-4d1f-9a3e-5b2f8c7d6e10"
    events = [
        {"kind": "page_view", "url": f"{origin}/", "title": "Mini shop"},
        {
            "kind": "click",
            "url": f"{origin}/",
            "target": {"test_id": "product-7", "role": "link", "name": "Product 7", "text": "Product 7", "tag": "a"},
        },
        {"kind": "page_view", "url": f"{origin}/products/7"},
        {
            "kind": "click",
            "url": f"{origin}/products/7",
            "target": {
                "test_id": "add-to-cart",
                "role": "button",
                "name": "Add to cart",
                "text": "Add to cart",
                "css": "body > button",
            },
        },
        {
            "kind": "request",
            "initiator": "fetch",
            "method": "POST",
            "request_url": f"{origin}/api/cart",
            "status": 201,
            "duration_ms": 4,
            "response_body": {"cart_id": cart, "items": []},
        },
        {"kind": "navigation", "to_url": f"{origin}/cart/{cart}"},
    ]
    return Session.model_validate(
        {
            "source": "mini",
            "session_id": "b1",
            "events": [{"session_id": "b1", "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


async def test_exported_browser_test_runs_in_chromium(tmp_path: Path) -> None:
    recorded = "http://shop.recorded.test"
    session = _browser_session(recorded)
    suite = build_suite("minib", "mini", [SelectedInput(session, ["event test"])], build_miner([session]))
    (test,) = [t for t in suite.tests if t.type == "browser"]
    actions = [(s.action, s.expect.url) for s in test.steps]
    assert actions == [("goto", "/"), ("click", "/products/{id}"), ("click", "/cart/{uuid}")]
    export_pytest(suite, tmp_path / "out")

    outcomes = {}
    for broken in ("", "renamed_button", "no_button"):
        server, url = await start(make_app(frozenset({broken} - {""})))
        try:
            outcomes[broken] = await _run_exported(tmp_path / "out", url)
        finally:
            await server.cleanup()
    assert outcomes[""][0] == 0, outcomes[""][1]
    assert outcomes["renamed_button"][0] == 0, outcomes["renamed_button"][1]  # found by role/CSS fallback
    code, out = outcomes["no_button"]
    assert code == 1 and "no element found" in out, out


async def test_known_test_values_replace_their_pseudonyms(store: Store) -> None:
    """The collector stored the test card token `tok_visa` as its pseudonym; `--known-value tok_visa`
    puts the real value back in the generated test (other pseudonyms stay)."""
    sanitizer = Sanitizer(await store.source_key("pay"))
    stored_token, other = sanitizer.secret("tok_visa"), sanitizer.secret("tok_private")
    assert stored_token != "tok_visa"
    sessions = [
        Session(
            source="pay",
            session_id=f"p{i}",
            events=[
                req(
                    0,
                    "POST",
                    "https://shop.test/api/checkout",
                    201,
                    body={"payments": [{"method": "card", "token": stored_token}], "note": other},
                    resp={"ok": True},
                    sid=f"p{i}",
                ),
            ],
        )
        for i in range(3)
    ]
    await write_sessions(store, "pay", sessions)
    await select_sessions(store, "pay", SelectOptions(max_sessions=1))
    suite = await generate_suite(store, "pay", "pay", options=GenerateOptions(known_values=["tok_visa"]))
    (step,) = suite.tests[0].steps
    assert isinstance(step, HttpStep)
    assert step.request.body == {"payments": [{"method": "card", "token": "tok_visa"}], "note": other}
    plain = await generate_suite(store, "pay", "pay")
    assert plain.tests[0].steps[0].request.body["payments"][0]["token"] == stored_token  # type: ignore[union-attr]


def test_a_search_the_collector_masked_promises_no_values() -> None:
    """A search for text a person typed (`?q=Ocean+mug`) is stored with the text's mask until k users
    sent it, and replayed with that mask: it finds something else than the person's search did. The
    collector marks such a request (`masked`), and its step expects the answer's shape, not its values
    (the demo's flaky false alarm: `/total` expected 1, the masked search found 0). Once the text is
    kept, the same request's values are a promise again."""
    from trodden.models.sanitization import SanitizationConfig

    def stored(k: int) -> list[Session]:
        sanitizer = Sanitizer(b"k" * 32, SanitizationConfig(free_text_min_users=k))
        sessions = []
        for n in range(3):
            token = sanitizer.begin(f"s{n}", f"u{n}")
            try:
                raw = req(1, "GET", "http://shop.test/api/products?q=Ocean+mug", 200, resp={"total": 1}, sid=f"s{n}")
                event = sanitizer.event(raw.model_dump(exclude_defaults=True) | {"kind": "request"})
            finally:
                sanitizer.end(token)
            sessions.append(Session(source="t", session_id=f"s{n}", events=[NetworkRequest.model_validate(event)]))
        return sessions

    masked, kept = stored(k=5), stored(k=1)
    assert all(s.events[0].masked and "Ocean" not in s.events[0].request_url for s in masked)
    assert not any(s.events[0].masked for s in kept) and "Ocean" in kept[0].events[0].request_url
    for sessions, values in ((masked, {}), (kept, {"/total": 1})):
        suite = build_suite("s", "t", [SelectedInput(sessions[0])], build_miner(sessions))
        [step] = [s for t in suite.tests for s in t.steps if isinstance(s, HttpStep)]
        assert step.expect.values == values
        assert step.expect.shape == {"/total": "number"}
