"""Raw personal data never reaches the store: hundreds of generated values (Faker) planted in every
position an event can hold them, sent through the collector (beacons, OTLP) and HAR import, then
every table is scanned for every value and its encodings. Zero may be found."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import orjson
from faker import Faker

from trodden.collector.ingest import ingest_files
from trodden.collector.pseudonym import b64url_encode, iban_valid, luhn_valid
from trodden.collector.sanitize import Sanitizer
from trodden.models.sanitization import SanitizationConfig, is_masked
from trodden.store import Store

from . import otlp_payloads as otlp
from .conftest import PSEUDONYM_KEY, StartCollector
from .otlp_payloads import kv

RULES = {
    "rules": [
        {"kind": "json_path", "match": "$.customer.name"},
        {"kind": "json_path", "match": "$.contact"},
        {"kind": "header", "match": "x-customer-name"},
        {"kind": "query_param", "match": "who", "action": "redact"},
    ]
}


def person(fake: Faker) -> dict[str, str]:
    email = fake.email()
    name = fake.name()
    header = b64url_encode(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    claims = b64url_encode(orjson.dumps({"sub": email, "name": name, "exp": 1900000000}))
    return {
        "email": email,
        "name": name,
        "phone": fake.phone_number(),
        "card": fake.credit_card_number(),
        "iban": fake.iban(),
        "ipv4": fake.ipv4_public(),
        "ipv6": fake.ipv6(),
        "password": fake.password(length=14),
        "token": "tok_" + fake.pystr(min_chars=28, max_chars=28),
        "session_cookie": fake.sha1(),
        "jwt": f"{header}.{claims}.{b64url_encode(os.urandom(32))}",
        "jwt_claims": claims,
        "basic": base64.b64encode(f"{email}:{fake.password(length=12)}".encode()).decode(),
    }


def secrets_of(p: dict[str, str]) -> list[str]:
    """Every string that must not be found, in the encodings it could be stored in."""
    values = [
        p[k]
        for k in (
            "email",
            "name",
            "phone",
            "card",
            "iban",
            "ipv4",
            "ipv6",
            "password",
            "token",
            "session_cookie",
            "jwt",
            "jwt_claims",
            "basic",
        )
    ]
    values.append(base64.b64decode(p["basic"]).decode().split(":", 1)[1])
    out = set()
    for v in values:
        out.update({v, quote(v, safe=""), quote_plus(v), orjson.dumps(v).decode()[1:-1]})
    return sorted(out)


def outline(p: dict[str, str]) -> dict[str, Any]:
    """What rum.js outlines of a page (`page`), personal data in every text it can hold."""
    return {
        "headings": [f"Orders of {p['email']}", f"Call {p['phone']}"],
        "landmarks": ["main", f"region {p['ipv4']}"],
        "tables": [{"name": f"Cards of {p['email']}", "headers": [f"IBAN {p['iban']}", p["card"]], "rows": 3}],
        "lists": [{"name": f"Cards {p['card']}", "items": 2}],
        "links": [f"Profile {p['email']}", f"Pay {p['iban']}"],
        "buttons": [f"Pay with {p['card']}"],
        "fields": [f"Phone ({p['phone']})"],
        "alerts": [f"Receipt sent to {p['email']}", f"From {p['ipv6']}"],
    }


def beacon(p: dict[str, str], sid: str) -> dict[str, Any]:
    t = 1_700_000_000_000
    query = urlencode({"email": p["email"], "phone": p["phone"], "who": p["name"]})
    target = {"tag": "input", "css": "#f > input", "xpath": '//*[@id="f"]/input'}
    return {
        "session_id": sid,
        "user_id": p["email"],
        "attributes": {"email": p["email"], "client_ip": p["ipv4"]},
        "events": [
            {
                "kind": "page_view",
                "seq": 0,
                "ts": t,
                "url": f"http://127.0.0.1/account?{query}",
                "title": f"Welcome {p['email']}",
                "referrer": f"http://127.0.0.1/pay?card={p['card']}",
                # what rum.js saw on the page once it settled: texts like any other
                "visible": [
                    {
                        "test_id": "greeting",
                        "role": "heading",
                        "name": f"Welcome, {p['email']}",
                        "text": f"Welcome, {p['email']} ({p['phone']})",
                        "tag": "h1",
                    },
                    {
                        "id": "pay-note",
                        "name": f"Card {p['card']}",
                        "text": f"IBAN {p['iban']} from {p['ipv4']}",
                        "tag": "p",
                    },
                ],
                "page": outline(p),
                "load": {"type": "navigate", "status": 200, "duration_ms": 120.5, "ttfb_ms": 30, "redirects": 1},
            },
            {
                "kind": "navigation",
                "seq": 1,
                "ts": t + 1,
                "to_url": f"http://127.0.0.1/users/{p['email']}/orders",
                "from_url": f"http://127.0.0.1/?ip={p['ipv4']}",
                "visible": [{"role": "status", "name": f"Hi {p['email']}", "text": f"Call {p['phone']}"}],
                "page": outline(p),
                "settle_ms": 310,
            },
            {
                "kind": "click",
                "seq": 2,
                "ts": t + 2,
                "target": {
                    "tag": "a",
                    "text": f"Signed in as {p['email']}",
                    "name": f"Call {p['phone']}",
                    "css": "#me",
                    "xpath": '//*[@id="me"]',
                },
                "visible": [{"test_id": "flash", "role": "status", "text": f"Receipt sent to {p['email']}"}],
            },
            {"kind": "input", "seq": 3, "ts": t + 3, "target": {**target, "id": "email"}, "value": p["email"]},
            {"kind": "input", "seq": 4, "ts": t + 4, "target": {**target, "id": "phone"}, "value": p["phone"]},
            {
                "kind": "input",
                "seq": 5,
                "ts": t + 5,
                "target": {**target, "id": "pw"},
                "value": p["password"],
                "masked": True,
            },
            {"kind": "change", "seq": 6, "ts": t + 6, "target": {**target, "id": "iban"}, "value": p["iban"]},
            {
                "kind": "request",
                "seq": 7,
                "ts": t + 7,
                "method": "POST",
                "request_url": f"http://127.0.0.1/api/pay?iban={quote(p['iban'])}&ip={p['ipv6']}",
                "status": 200,
                "duration_ms": 30,
                "request_headers": {
                    "authorization": f"Basic {p['basic']}",
                    "cookie": f"sid={p['session_cookie']}; a=b",
                    "x-forwarded-for": p["ipv4"],
                    "x-user-email": p["email"],
                    "x-customer-name": p["name"],
                },
                "response_headers": {"set-cookie": f"sid={p['session_cookie']}; Path=/; HttpOnly"},
                "request_body": {
                    "customer": {"name": p["name"], "email": p["email"], "phone": p["phone"]},
                    "card": p["card"],
                    "iban": p["iban"],
                    "password": p["password"],
                    "note": f"call me on {p['phone']} or mail {p['email']}",
                    "items": [{"sku": 1}],
                },
                "response_body": {"access_token": p["jwt"], "token": p["token"], "seen_from": p["ipv6"]},
            },
            {
                "kind": "request",
                "seq": 8,
                "ts": t + 8,
                "method": "POST",
                "request_url": "http://127.0.0.1/login",
                "status": 302,
                "duration_ms": 5,
                "request_headers": {"authorization": f"Bearer {p['jwt']}"},
                "request_body": urlencode({"email": p["email"], "password": p["password"], "phone": p["phone"]}),
            },
            {
                "kind": "request",
                "seq": 9,
                "ts": t + 9,
                "method": "GET",
                "request_url": "http://127.0.0.1/api/me",
                "status": 200,
                "duration_ms": 5,
                "request_headers": {"authorization": f"Bearer {p['token']}"},
            },
            {
                "kind": "error",
                "seq": 10,
                "ts": t + 10,
                "error_type": "uncaught",
                "message": f"failed for {p['email']} from {p['ipv4']}",
                "stack": f"at pay ({p['card']})",
            },
            {
                "kind": "custom",
                "seq": 11,
                "ts": t + 11,
                "name": "checkout",
                "properties": {"email": p["email"], "nested": {"phone": p["phone"], "list": [p["card"], p["iban"]]}},
            },
        ],
    }


def har_of(p: dict[str, str]) -> dict[str, Any]:
    def h(name: str, value: str) -> dict[str, str]:
        return {"name": name, "value": value}

    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "t", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2024-05-01T10:00:00.000Z",
                    "time": 10,
                    "request": {
                        "method": "POST",
                        "url": f"http://127.0.0.1/api/signup?email={quote(p['email'])}",
                        "headers": [
                            h("Authorization", f"Bearer {p['jwt']}"),
                            h("Cookie", f"sid={p['session_cookie']}"),
                            h("X-Real-IP", p["ipv4"]),
                        ],
                        "postData": {
                            "mimeType": "application/json",
                            "text": orjson.dumps(
                                {
                                    "customer": {"name": p["name"]},
                                    "email": p["email"],
                                    "phone": p["phone"],
                                    "card": p["card"],
                                    "iban": p["iban"],
                                    "password": p["password"],
                                }
                            ).decode(),
                        },
                    },
                    "response": {
                        "status": 201,
                        "headers": [
                            h("Set-Cookie", f"sid={p['session_cookie']}; Path=/"),
                            h("Content-Type", "application/json"),
                        ],
                        "content": {
                            "mimeType": "application/json",
                            "text": orjson.dumps(
                                {"token": p["token"], "ip": p["ipv6"], "contact": f"{p['name']} <{p['email']}>"}
                            ).decode(),
                        },
                    },
                }
            ],
        }
    }


def otlp_of(p: dict[str, str], sid: str) -> dict[str, Any]:
    attributes = [
        kv("session.id", sid),
        kv("url.full", f"http://127.0.0.1/u?phone={quote(p['phone'])}"),
        kv("http.request.header.authorization", f"Bearer {p['token']}"),
        kv("client.address", p["ipv4"]),
        kv("enduser.email", p["email"]),
        kv("payment.card", p["card"]),
    ]
    return otlp.traces([otlp.span(f"lookup {p['email']}", attributes)])


def otlp_logs_of(p: dict[str, str], sid: str) -> dict[str, Any]:
    body = {
        "kvlistValue": {
            "values": [
                kv("msg", f"login failed for {p['email']} ({p['phone']})"),
                kv("card", p["card"]),
                kv("iban", p["iban"]),
            ]
        }
    }
    attributes = [
        kv("session.id", sid),
        kv("user.password", p["password"]),
        kv("http.request.header.cookie", f"sid={p['session_cookie']}"),
    ]
    record = otlp.log_record(body, attributes, severityText="WARN")
    return otlp.logs([record], resource=[kv("host.ip", p["ipv4"])])


async def scan(store: Store) -> str:
    tables = await store.pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
    )
    chunks = []
    for t in tables:
        rows = await store.pool.fetch(f'SELECT t::text AS row FROM "{t["tablename"]}" t')
        chunks.extend(r["row"] for r in rows)
    return "\n".join(chunks)


async def test_no_planted_value_reaches_any_table(
    start_collector: StartCollector, store: Store, tmp_path: Path
) -> None:
    fake = Faker()
    Faker.seed(20240501)
    rules = tmp_path / "rules.json"
    rules.write_text(orjson.dumps(RULES).decode())
    collector = await start_collector(sanitization_file=rules)
    people = [person(fake) for _ in range(30)]

    for i, p in enumerate(people[:20]):
        status, body, _ = await collector.post("/v1/rum", beacon(p, f"s{i}"))
        assert status == 200, body
        status, body, _ = await collector.post(
            "/v1/traces", otlp_of(p, f"s{i}"), headers={"Content-Type": "application/json"}
        )
        assert status == 200, body
        status, body, _ = await collector.post(
            "/v1/logs", otlp_logs_of(p, f"s{i}"), headers={"Content-Type": "application/json"}
        )
        assert status == 200, body
    hars = []
    for i, p in enumerate(people[20:]):
        path = tmp_path / f"rec{i}.har"
        path.write_bytes(orjson.dumps(har_of(p)))
        hars.append(path)
    sanitizer = Sanitizer(PSEUDONYM_KEY, SanitizationConfig.model_validate(RULES))
    reports = await ingest_files(store, "shop", list(hars), sanitizer=sanitizer)
    assert all(r.error is None and r.events == 2 for r in reports)

    assert await store.pool.fetchval("SELECT count(*) FROM events") == 20 * 12 + 10 * 2
    assert await store.pool.fetchval("SELECT count(*) FROM spans") == 20
    assert await store.pool.fetchval("SELECT count(*) FROM logs") == 20
    everything = await scan(store)
    planted = [s for p in people for s in secrets_of(p)]
    assert len(planted) > 500
    found = [s for s in planted if s in everything]
    assert found == [], f"{len(found)} planted values stored: {found[:10]}"
    # the visible-state snapshot keeps its shape: its texts (one user saw each) are masked, not dropped
    shown = await store.pool.fetchval("SELECT data->'visible' FROM events WHERE kind = 'page_view' LIMIT 1")
    name = shown[0]["name"]
    assert shown[0]["test_id"] == "greeting" and is_masked(name) and name[7:9] == ", "
    # ... and so does the page outline: same lists, counts and timings, texts masked
    row = await store.pool.fetchrow(
        "SELECT data->'page' AS page, data->'load' AS load FROM events WHERE kind = 'page_view' LIMIT 1"
    )
    page, load = row["page"], row["load"]
    assert page["tables"][0]["rows"] == 3 and len(page["links"]) == 2 and is_masked(page["headings"][0])
    assert load == {"type": "navigate", "status": 200, "duration_ms": 120.5, "ttfb_ms": 30, "redirects": 1}


async def test_pseudonyms_keep_shape_and_consistency(start_collector: StartCollector) -> None:
    fake = Faker()
    Faker.seed(7)
    collector = await start_collector()
    p = person(fake)
    status, _, _ = await collector.post("/v1/rum", beacon(p, "shape"))
    assert status == 200
    rows = {r["seq"]: r["data"] for r in await collector.store.pool.fetch("SELECT seq, data FROM events")}
    body = rows[7]["request_body"]
    assert body["card"] != p["card"] and luhn_valid(body["card"])
    assert len(body["card"]) == len(p["card"])
    assert body["iban"] != p["iban"] and iban_valid(body["iban"]) and body["iban"][:2] == p["iban"][:2]
    assert "@" in body["customer"]["email"] and body["customer"]["email"] != p["email"]
    # The same value maps to the same pseudonym everywhere within the source.
    assert rows[3]["value"] == body["customer"]["email"]
    assert rows[9]["request_headers"]["authorization"] == f"Bearer {rows[7]['response_body']['token']}"
    assert rows[8]["request_headers"]["authorization"] == f"Bearer {rows[7]['response_body']['access_token']}"
    jwt = rows[7]["response_body"]["access_token"]
    assert jwt.count(".") == 2 and jwt.split(".")[0] == p["jwt"].split(".")[0]
    claims = orjson.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
    assert claims["exp"] == 1900000000 and "@" in claims["sub"] and claims["sub"] == body["customer"]["email"]
    cookie = rows[7]["request_headers"]["cookie"]
    sid, _, rest = cookie.partition("; ")
    assert rest.startswith("a=") and len(rest) == 3
    assert sid.startswith("sid=") and len(sid) == len(f"sid={p['session_cookie']}")
    int(sid[4:], 16)  # a hex session id stays hex
    assert rows[7]["response_headers"]["set-cookie"].split(";")[0] == cookie.split(";")[0]
