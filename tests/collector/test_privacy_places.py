"""The places issue 17 found raw values in: each planted (a new value per person and place) over
beacons, OTLP and HAR; then the sessions are selected, a suite is generated from them and replayed
(HTTP tests, against a server that answers anything), so the data goes everywhere the product copies
it (`selections`, `selection_items`, `suite_revisions.ir`, `replay_runs`, `replay_results`). Every
table is then searched for each value raw, URL-encoded, base64 and base64url encoded, and
case-folded: nothing may be found."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import orjson
from aiohttp import web
from faker import Faker

from trodden.collector.ingest import ingest_files
from trodden.collector.pseudonym import b64url_encode
from trodden.collector.sanitize import Sanitizer
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.store import Store
from trodden.synthesis.api import generate_suite, select_sessions
from trodden.synthesis.generate import GenerateOptions
from trodden.synthesis.selection import SelectOptions

from . import otlp_payloads as otlp
from .conftest import PSEUDONYM_KEY, StartCollector
from .otlp_payloads import kv
from .test_privacy import scan

T = 1_700_000_000_000


def token(fake: Faker, n: int = 32) -> str:
    return fake.pystr(min_chars=n, max_chars=n) + str(fake.random_int(10, 99))


def values(fake: Faker, i: int) -> dict[str, Any]:
    """One person's values, a new one for each place."""
    email = fake.email()
    jwt_payload = b64url_encode(orjson.dumps({"sub": fake.email(), "uid": 4111111111111111, "n": fake.name()}))
    return {
        "email": email,
        "idn_email": f"{fake.first_name().lower()}{i}@bücher-{i}.example",
        "phone_fr": f"+33 1 {fake.random_int(10, 99)} 45 67 89",
        "phone_in": f"+91 98765 {fake.random_int(10000, 99999)}",
        "phone_uk": f"+4477009{fake.random_int(10000, 99999)}",
        "card": fake.credit_card_number(card_type="visa16"),
        "card_int": int(fake.credit_card_number(card_type="visa16")),
        "card_glued": fake.credit_card_number(card_type="mastercard"),
        "card_path": fake.credit_card_number(card_type="visa16"),
        "iban_lower": fake.iban().lower(),
        "iban_keyed": fake.iban(),
        "ssn": fake.ssn().replace("-", ""),
        "nino": f"AB{fake.random_int(100000, 999999)}C",
        "ip_mapped": f"::ffff:198.51.{fake.random_int(1, 254)}.{fake.random_int(1, 254)}",
        "session_card": fake.credit_card_number(card_type="visa16"),
        "session_ip": fake.ipv4_public(),
        "aws": "AKIA" + fake.pystr(min_chars=16, max_chars=16).upper(),
        "google": "AIza" + fake.pystr(min_chars=35, max_chars=35),
        "token_value": token(fake),
        "token_key": token(fake),
        "token_t": token(fake),
        "token_segment": fake.pystr(min_chars=24, max_chars=24),
        "jsessionid": fake.pystr(min_chars=24, max_chars=24).upper() + "1",
        "fragment_token": token(fake),
        "referer_token": token(fake),
        "location_token": token(fake),
        "bearer_upper": token(fake),
        "token_scheme": token(fake),
        "cookie_bare": token(fake),
        "custom_prop": fake.email(),
        "batch_attr": fake.email(),
        "relative_pw": fake.password(length=14, special_chars=False),
        "form_pw": fake.password(length=14, special_chars=False),
        "multipart_pw": fake.password(length=14, special_chars=False),
        "multipart_email": fake.email(),
        "html_email": fake.email(),
        "html_pw": fake.password(length=14, special_chars=False),
        "b64_email": fake.email(),
        "err_token": token(fake),
        "err_sig": token(fake),
        "err_pass": fake.password(length=12, special_chars=False),
        "password2": fake.password(length=12, special_chars=False),
        "password_confirm": fake.password(length=12, special_chars=False),
        "otp_code": str(fake.random_int(100000, 999999)),
        "pin_code": str(fake.random_int(1000, 9999)) + "77",
        "social": fake.ssn(),
        "jwe": "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ." + ".".join(token(fake, 20) for _ in range(4)),
        "jwt_odd": "eyJhbGciOiJIUzI1NiJ9." + jwt_payload + "." + token(fake, 30),
        "otlp_session_email": fake.email(),
        "otlp_query_pw": fake.password(length=14, special_chars=False),
        "otlp_target_token": token(fake),
        "otlp_referer_token": token(fake),
        "db_pw": fake.password(length=14, special_chars=False),
        "log_token": token(fake),
        "bytes_email": fake.email(),
        "typed_name": fake.name(),
        "typed_address": fake.street_address(),
        "har_pw": fake.password(length=14, special_chars=False),
        "har_multipart_email": fake.email(),
        "har_html_email": fake.email(),
        "har_location_token": token(fake),
        # display texts: what pages show about the person
        "title_name": fake.name(),
        "visible_name": fake.name(),
        "target_name": fake.name(),
        "heading_address": fake.street_address(),
        "link_name": fake.name(),
        "table_name": fake.name(),
        "alert_address": fake.street_address(),
        # round 4 (hostile sweep): prefixed tokens in text, cards glued or disguised, credentials in
        # batch bodies, names of headers and cookies, arrays and objects under secret names, double
        # percent-encoding, base64 in a URL parameter, OTLP arrays, exception messages, long values
        "text_tok": "tok_" + fake.hexify("^^^^^^^^^^^^"),
        "text_sk_live": "sk_live_" + fake.pystr(min_chars=20, max_chars=20) + "7",
        "visible_tok": "tok_" + fake.hexify("^^^^^^^^"),
        "jwt_sentence": f"eyJhbGciOiJIUzI1NiJ9.{jwt_payload}.{token(fake, 24)}",
        "card_dated": fake.credit_card_number(card_type="visa16"),
        "card_suffixed": fake.credit_card_number(card_type="mastercard"),
        "card_plus": fake.credit_card_number(card_type="visa16"),
        "card_fullwidth": fake.credit_card_number(card_type="visa16").translate(
            {48 + d: 0xFF10 + d for d in range(10)}
        ),
        "card_nbsp": "\u00a0".join(_groups(fake.credit_card_number(card_type="visa16"))),
        "card_zero_width": "\u200b".join(_groups(fake.credit_card_number(card_type="visa16"))),
        "email_fullwidth_at": f"{fake.user_name()}{i}＠example.com",
        "batch_basic_pw": fake.password(length=14, special_chars=False),
        "batch_bearer": token(fake),
        "batch_cookie": token(fake),
        "header_name_email": fake.email(),
        "cookie_name_email": fake.email(),
        "cookie_path_token": "tok_" + fake.hexify("^^^^^^^^^^^^"),
        "cookie_attr_email": fake.email(),
        "json_key_email": fake.email(),
        "password_list": fake.password(length=12, special_chars=False),
        "tokens_access": fake.password(length=16, special_chars=False),
        "password_obj_new": fake.password(length=12, special_chars=False),
        "double_encoded_email": fake.email(),
        "param_b64_email": fake.email(),
        "long_text_email": fake.email(),
        "error_email": fake.email(),
        "otlp_array_email": fake.email(),
        "otlp_cookie_second": token(fake),
        "otlp_exception_email": fake.email(),
        "otlp_method_email": fake.email(),
        "beacon_severity_email": fake.email(),
        "beacon_span_kind_email": fake.email(),
        # round 5: secrets said in prose, HTML character references, Cyrillic and Greek look-alikes in
        # token words, local parts over 64 characters, lone names typed by people
        "prose_pw": fake.password(length=12, special_chars=False),
        "prose_pwd": fake.password(length=12, special_chars=False),
        "html_ref_email": fake.email().replace("@", "&#64;"),
        "html_named_email": fake.email().replace("@", "&commat;"),
        "cyrillic_token": "t\u043ek_" + fake.hexify("^^^^^^^^^^^^"),
        "greek_token": "sk_l\u0456ve_" + fake.pystr(min_chars=20, max_chars=20) + "7",
        "long_local": fake.user_name() + "." + fake.pystr(min_chars=70, max_chars=70).lower(),
        "lone_name": _long_first_name(fake),
    }


def _long_first_name(fake: Faker) -> str:
    """A first name long enough that the scan cannot meet it by chance in other stored text."""
    name = fake.first_name()
    while len(name) < 7:
        name = fake.first_name()
    return name


def _groups(card: str) -> list[str]:
    return [card[i : i + 4] for i in range(0, len(card), 4)]


def beacon(v: dict[str, Any], i: int) -> dict[str, Any]:
    b64 = base64.b64encode(orjson.dumps({"contact": v["b64_email"]})).decode()
    boundary = "----trodden" + str(i)
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n{v["multipart_pw"]}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n{v["multipart_email"]}\r\n'
        f"--{boundary}--\r\n"
    )
    basic = base64.b64encode(f"{v['header_name_email']}:{v['batch_basic_pw']}".encode()).decode()
    twice = quote(quote(v["double_encoded_email"], safe=""), safe="")
    state = b64url_encode(orjson.dumps({"return": "/account", "email": v["param_b64_email"]}))
    html = (
        f"<html><body><p>Contact {v['html_email']}</p>"
        f'<form><input type="password" name="pw" value="{v["html_pw"]}"></form></body></html>'
    )
    return {
        "session_id": v["session_card"] if i % 2 else v["session_ip"],
        "user_id": v["typed_name"],
        "attributes": {"contact": v["batch_attr"]},
        "events": [
            {
                "kind": "page_view",
                "seq": 0,
                "ts": T,
                "url": f"https://shop.example/cb?key={v['google']}#access_token={v['fragment_token']}&state=x",
                "referrer": f"/reset/{v['token_segment']}",
                "title": f"Orders of {v['title_name']} | Shop",
                "visible": [{"role": "link", "name": v["visible_name"], "text": v["visible_name"], "tag": "a"}],
                "page": {
                    "headings": ["Your orders", f"Ship to {v['heading_address']}"],
                    "links": ["Home", f"Profile of {v['link_name']}"],
                    "tables": [{"name": f"Orders of {v['table_name']}", "headers": ["Order", "Total"], "rows": 1}],
                    "alerts": [f"Address {v['alert_address']} saved"],
                },
            },
            {
                "kind": "click",
                "seq": 9,
                "ts": T + 9,
                "url": "https://shop.example/account",
                "target": {"role": "link", "name": v["target_name"], "text": v["html_named_email"], "tag": "a"},
            },
            {
                "kind": "navigation",
                "seq": 1,
                "ts": T + 1,
                "to_url": f"https://shop.example/a;jsessionid={v['jsessionid']}/b#token={v['fragment_token']}",
                "from_url": f"/cards/{v['card_path']}.json",
            },
            {
                "kind": "input",
                "seq": 2,
                "ts": T + 2,
                "target": {"tag": "textarea", "id": "address"},
                "value": v["typed_address"],
            },
            {
                "kind": "request",
                "seq": 3,
                "ts": T + 3,
                "method": "POST",
                "request_url": f"/api/login?password={quote(v['relative_pw'])}",
                "status": 200,
                "duration_ms": 3,
                "request_headers": {"content-type": "application/x-www-form-urlencoded"},
                "request_body": f"user=a&pw={quote(v['form_pw'])}&password={quote(v['form_pw'])}&",
                "response_body": {"data": {"value": v["token_value"]}, "key": v["token_key"], "t": v["token_t"]},
            },
            {
                "kind": "request",
                "seq": 4,
                "ts": T + 4,
                "method": "GET",
                "request_url": "https://api.example/me",
                "status": 302,
                "duration_ms": 3,
                "request_headers": {
                    "x-session": v["token_value"],
                    "x-auth": v["token_key"],
                    "x-trace-note": f"BEARER {v['bearer_upper']} and Token {v['token_scheme']}",
                    "referer": f"https://shop.example/p?t={v['referer_token']}",
                    "cookie": v["cookie_bare"],
                    "x-aws": v["aws"],
                },
                "response_headers": {"location": f"https://shop.example/next#code={v['location_token']}"},
                "response_body": {"payment": {"number": v["card_int"]}, "jwe": v["jwe"], "jwt": v["jwt_odd"]},
            },
            {
                "kind": "request",
                "seq": 5,
                "ts": T + 5,
                "method": "POST",
                "request_url": "https://api.example/upload",
                "status": 200,
                "duration_ms": 3,
                "request_body": multipart,
                "response_body": html,
            },
            {
                "kind": "request",
                "seq": 6,
                "ts": T + 6,
                "method": "POST",
                "request_url": "https://api.example/profile",
                "status": 200,
                "duration_ms": 3,
                "request_body": {
                    "blob": b64,
                    "password2": v["password2"],
                    "passwordConfirm": v["password_confirm"],
                    "otp_code": v["otp_code"],
                    "pin_code": v["pin_code"],
                    "social_security_number": v["social"],
                    "iban": v["iban_keyed"],
                    "note": f"ref-{v['card_glued']} iban {v['iban_lower']} ssn {v['ssn']} ni {v['nino']}",
                    "phones": [v["phone_fr"], v["phone_in"], v["phone_uk"]],
                    "from": v["ip_mapped"],
                    "mail": v["idn_email"],
                    "name": v["typed_name"],
                    "firstName": v["lone_name"],
                },
            },
            {
                "kind": "error",
                "seq": 7,
                "ts": T + 7,
                "error_type": "uncaught",
                "message": f"GET /x?token={v['err_token']} failed",
                "stack": f"at f (https://cdn.example/a.js?sig={v['err_sig']}&pass={v['err_pass']}:1:2)",
            },
            {
                "kind": "custom",
                "seq": 8,
                "ts": T + 8,
                "name": "c",
                "properties": {"who": v["custom_prop"], "contact": f"{v['long_local']}@example.com"},
            },
            {
                "kind": "input",
                "seq": 15,
                "ts": T + 15,
                "target": {"tag": "input", "id": "first-name"},
                "value": v["lone_name"],
            },
            {
                "kind": "error",
                "seq": 16,
                "ts": T + 16,
                "error_type": "uncaught",
                "message": f"login failed: my password is {v['prose_pw']}, token {v['cyrillic_token']}",
            },
            {
                "kind": "error",
                "seq": 10,
                "ts": T + 10,
                "error_type": "uncaught",
                "message": f"Your API token is {v['text_tok']}. Session {v['jwt_sentence']} expired"
                f" for {v['error_email']}",
            },
            {
                "kind": "click",
                "seq": 11,
                "ts": T + 11,
                "url": f"https://shop.example/orders/2024-{v['card_dated']}?next={twice}&state={state}",
                "target": {"role": "button", "name": "Copy key", "text": f"Copy {v['visible_tok']}", "tag": "button"},
                "visible": [{"role": "status", "name": "Key", "text": f"Key sk {v['text_sk_live']} ready"}],
            },
            {
                "kind": "request",
                "seq": 12,
                "ts": T + 12,
                "method": "POST",
                "request_url": f"https://api.example/v1/batch?ref={v['card_suffixed']}-01",
                "status": 200,
                "duration_ms": 3,
                "request_headers": {
                    "authorization": f"Basic {basic}",
                    f"x-user-{v['header_name_email']}": "1",
                    "cookie": f"{v['cookie_name_email']}=1; theme=dark",
                    "x-note": f"key {v['text_sk_live']} or {v['greek_token']}",
                },
                "response_headers": {
                    "set-cookie": f"sid=abc123456789; Path=/keys/{v['cookie_path_token']}"
                    f"; Comment={v['cookie_attr_email']}"
                },
                "request_body": {
                    "defaults": {
                        "headers": {"Authorization": f"Basic {basic}", "Cookie": f"session={v['batch_cookie']}"}
                    },
                    "requests": [
                        {
                            "method": "PUT",
                            "path": "/buckets/b",
                            "headers": {"Authorization": f"Bearer {v['batch_bearer']}"},
                        },
                    ],
                    "password": [v["password_list"], "x"],
                    "tokens": {"access": v["tokens_access"], "expires_in": 3600},
                    "passwordChange": {"new": v["password_obj_new"], "confirm": v["password_obj_new"]},
                },
                "response_body": {
                    v["json_key_email"]: {"role": "owner"},
                    # a response body is not typed text: the detectors, not the free-text rule, must find these
                    "note": f"card +{v['card_plus']} / {v['card_fullwidth']} / {v['card_nbsp']}"
                    f" / {v['card_zero_width']} "
                    f"mail {v['email_fullwidth_at']} " + "x" * 3000 + f" {v['long_text_email']}"
                    f" <p>{v['html_ref_email']}</p>",
                },
            },
            # span and log events a beacon may send itself: their free strings
            {"kind": "log", "seq": 13, "ts": T + 13, "severity": v["beacon_severity_email"], "body": "x"},
            {
                "kind": "span",
                "seq": 14,
                "ts": T + 14,
                "trace_id": "ab" * 16,
                "span_id": "cd" * 8,
                "name": "n",
                "duration_ms": 1,
                "span_kind": v["beacon_span_kind_email"],
            },
        ],
    }


def otlp_traces(v: dict[str, Any]) -> dict[str, Any]:
    payload = base64.b64encode(orjson.dumps({"email": v["bytes_email"]})).decode()
    attributes = [
        kv("url.query", f"password={v['otlp_query_pw']}&x=1"),
        kv("http.target", f"/p?access_token={v['otlp_target_token']}"),
        kv("http.request.header.referer", f"/r?token={v['otlp_referer_token']}"),
        kv("db.statement", f"UPDATE u SET password = '{v['db_pw']}' WHERE id = 1"),
        {"key": "payload", "value": {"bytesValue": payload}},
        {"key": "app.recipients", "value": {"arrayValue": {"values": [{"stringValue": v["otlp_array_email"]}]}}},
        {
            "key": "http.response.header.set-cookie",
            "value": {
                "arrayValue": {
                    "values": [{"stringValue": "a=b1234567; Path=/"}, {"stringValue": f"sid={v['otlp_cookie_second']}"}]
                }
            },
        },
        kv("exception.message", f"no account for {v['otlp_exception_email']}"),
        kv("http.request.method", v["otlp_method_email"]),
    ]
    return otlp.traces([otlp.span("GET", attributes)], resource=[kv("session.id", v["otlp_session_email"])])


def otlp_logs(v: dict[str, Any]) -> dict[str, Any]:
    return otlp.logs(
        [
            otlp.log_record({"stringValue": f"refresh failed token={v['log_token']}"}),
            otlp.log_record({"stringValue": f"user reset, new pwd - {v['prose_pwd']}"}),
        ]
    )


def har(v: dict[str, Any], i: int) -> dict[str, Any]:
    boundary = f"b{i}"
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "t", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2024-05-01T10:00:00.000Z",
                    "time": 5,
                    "request": {
                        "method": "POST",
                        "url": "https://shop.example/login",
                        "headers": [],
                        "postData": {
                            "mimeType": f"multipart/form-data; boundary={boundary}",
                            "text": f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n'
                            f'{v["har_pw"]}\r\n--{boundary}\r\nContent-Disposition: form-data; name="m"\r\n\r\n'
                            f"{v['har_multipart_email']}\r\n--{boundary}--\r\n",
                        },
                    },
                    "response": {
                        "status": 302,
                        "headers": [{"name": "Location", "value": f"/home#access_token={v['har_location_token']}"}],
                        "content": {
                            "mimeType": "text/html",
                            "text": f"<html><p>Hello {v['har_html_email']}</p></html>",
                        },
                    },
                }
            ],
        }
    }


async def answer_anything() -> tuple[web.AppRunner, str]:
    """A server that answers every request with a small JSON body: the replay's target."""

    async def anything(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def forms(value: Any) -> set[str]:
    text = str(value)
    raw = text.encode()
    out = {text, quote(text, safe=""), quote_plus(text), base64.b64encode(raw).decode().rstrip("=")}
    out.add(quote(quote(text, safe=""), safe=""))  # twice encoded: a URL in another URL's parameter
    out.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    return {f for f in out if len(f) >= 4}


async def test_every_place_of_the_issue_keeps_its_secrets(
    start_collector: StartCollector, store: Store, tmp_path: Path
) -> None:
    fake = Faker()
    Faker.seed(17)
    collector = await start_collector()
    people = [values(fake, i) for i in range(6)]
    for i, v in enumerate(people):
        status, body, _ = await collector.post("/v1/rum", beacon(v, i))
        assert status == 200, body
        for path, doc in (("/v1/traces", otlp_traces(v)), ("/v1/logs", otlp_logs(v))):
            status, body, _ = await collector.post(path, doc, headers={"Content-Type": "application/json"})
            assert status == 200, body
    hars = []
    for i, v in enumerate(people):
        path = tmp_path / f"p{i}.har"
        path.write_bytes(orjson.dumps(har(v, i)))
        hars.append(path)
    reports = await ingest_files(store, "shop", hars, sanitizer=Sanitizer(PSEUDONYM_KEY))
    assert all(r.error is None and r.events == 2 for r in reports), reports

    # Onward: a selection of every session, a suite generated from it, and a replay of its HTTP tests.
    selection = await select_sessions(store, "shop", SelectOptions(max_sessions=100, similarity=1.0, min_support=1))
    assert selection.sessions
    suite = await generate_suite(store, "shop", "places", options=GenerateOptions())
    assert suite.tests
    runner, target = await answer_anything()
    try:
        report = await replay_suite(store, suite, target, ReplayOptions(only="http", retries=0, concurrency=4))
    finally:
        await runner.cleanup()
    assert report.results

    everything = await scan(store)
    assert "shop.example" in everything and "api.example/profile" in everything  # the scan sees the rows
    for table in ("selection_items", "suite_revisions", "replay_results"):  # and what was copied onward
        assert await store.pool.fetchval(f"SELECT count(*) FROM {table}"), table
    folded = everything.casefold()
    planted = {(name, form) for v in people for name, value in v.items() for form in forms(value)}
    assert len({(n, str(v[n])) for v in people for n in v}) >= 300  # distinct planted values
    assert len(people[0]) >= 40  # places
    found = sorted({name for name, form in planted if form in everything or form.casefold() in folded})
    assert found == [], f"stored raw: {found}"
