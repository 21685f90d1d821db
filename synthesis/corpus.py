"""Realistic synthetic sessions of a small shop, for tests, benches and trying the tool out.

Two generators over the same shop:
- `shop_sessions(n, seed)`: full `Session` models (page views, clicks, requests with headers and
  JSON bodies, custom events, JS errors), with planted invariants and planted non-invariants
  (`PLANTED_INVARIANTS`, `PLANTED_NON_INVARIANTS`) that mining must tell apart;
- `raw_step_sessions(n, seed)`: the same kind of journeys as raw step tuples only, cheap enough
  to produce a million sessions for the selection bench.
`write_sessions(store, source, sessions)` stores sessions the way the collector does (COPY into
`sessions` and `events`, `data` holding the kind-specific fields).

Journey mix: a few core flows carry most traffic, a long tail of rare ones, near-duplicates
(an extra product view here, a repeated search there), errors (5xx, expired coupons, JS errors),
custom events (`add_to_cart_failed`), slow requests.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from trodden.models.events import EVENT_ADAPTER, Session
from trodden.store import Store
from trodden.synthesis.steps import RawStep

ORIGIN = "https://shop.example.com"
T0 = 1_767_225_600_000.0  # 2026-01-01T00:00:00Z in ms
CATEGORIES = ("shoes", "hats", "shirts", "bags", "socks")
VARIANTS = ("a", "b", "c", "d", "e", "f", "g")

# (kind, endpoint, field) the miner must find in `shop_sessions` output (field None: whole response)
PLANTED_INVARIANTS: list[tuple[str, str, str | None]] = [
    ("status", "GET /api/products/{id}", None),
    ("status", "POST /api/cart", None),
    ("status", "GET /api/orders/{uuid}", None),
    ("not_null", "GET /api/products/{id}", "/price"),
    ("type", "GET /api/products/{id}", "/price"),
    ("format", "GET /api/products/{id}", "/updated_at"),
    ("format", "POST /api/cart", "/cart_id"),
    ("format", "POST /api/checkout", "/order_id"),
    ("format", "GET /api/me", "/email"),
    ("value_set", "GET /api/products/{id}", "/currency"),
    ("value_set", "POST /api/checkout", "/status"),
    ("range", "GET /api/products/{id}", "/price"),
    ("present", "GET /api/me", "/nickname"),
    ("error_shape", "POST /api/cart/{uuid}/coupon", None),
    ("followed_by", "POST /api/checkout", "GET /api/orders/{uuid}"),
    ("preceded_by", "POST /api/cart/{uuid}/items", "POST /api/cart"),
    ("latency", "GET /api/products/{id}", None),
]
# what looks like an invariant on a glance but is not one; mining must not report these
PLANTED_NON_INVARIANTS: list[tuple[str, str, str | None]] = [
    ("not_null", "GET /api/me", "/nickname"),  # null for a third of users
    ("value_set", "GET /api/recommendations", "/variant"),  # 7 values
    ("type", "GET /api/recommendations", "/score"),  # number or string
    ("status", "GET /api/search", None),  # 3% 500s
    ("followed_by", "GET /api/products/{id}", "POST /api/cart"),  # only some buy
    ("latency", "GET /api/rare", None),  # too few samples for a bound
    ("format", "GET /api/recommendations", "/generated_at"),  # empty string one time in ten
    ("value_set", "GET /api/products/{id}", "/name"),  # many names
    ("present", "GET /api/recommendations", "/promo"),  # only sometimes there
    ("followed_by", "POST /api/cart/{uuid}/coupon", "POST /api/checkout"),  # not everyone checks out
]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


class _SessionWriter:
    """Accumulates one session's events with increasing seq and time."""

    def __init__(self, session_id: str, rng: random.Random, start_ms: float) -> None:
        self.sid = session_id
        self.rng = rng
        self.ts = start_ms
        self.events: list[dict[str, Any]] = []
        self.page = ORIGIN + "/"
        self.headers: dict[str, str] = {"accept": "application/json"}

    def _add(self, kind: str, **fields: Any) -> None:
        self.ts += round(self.rng.uniform(200, 3000))  # whole ms: what the store keeps exactly
        self.events.append(
            {"kind": kind, "session_id": self.sid, "seq": len(self.events), "ts": self.ts, "url": self.page, **fields}
        )

    def view(self, path: str, title: str) -> None:
        self.page = ORIGIN + path
        self._add("page_view", title=title)

    def click(self, test_id: str | None, role: str, name: str) -> None:
        target = {
            "test_id": test_id,
            "role": role,
            "name": name,
            "text": name,
            "tag": "button",
            "css": f"button.{name.lower().replace(' ', '-')}",
        }
        self._add("click", target={k: v for k, v in target.items() if v is not None})

    def fill(self, test_id: str, value: str) -> None:
        self._add("input", target={"test_id": test_id, "role": "textbox", "name": test_id, "tag": "input"}, value=value)

    def request(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        *,
        request_body: Any = None,
        duration: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        req_headers = dict(self.headers)
        if request_body is not None:
            req_headers["content-type"] = "application/json"
        resp_headers = {"content-type": "application/json"} | (headers or {})
        self._add(
            "request",
            initiator="fetch",
            method=method,
            request_url=ORIGIN + path,
            status=status,
            duration_ms=duration if duration is not None else round(self.rng.lognormvariate(3.5, 0.4), 1),
            request_headers=req_headers,
            response_headers=resp_headers,
            request_body=request_body,
            response_body=body,
        )

    def custom(self, name: str, **props: Any) -> None:
        self._add("custom", name=name, properties=props)

    def js_error(self, message: str) -> None:
        self._add("error", error_type="uncaught", message=message)


def _product(rng: random.Random, pid: int, ts: float) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"Product {pid}",
        "slug": f"product-{pid}",
        "price": round(5 + (pid % 97) * 1.5, 2),
        "currency": "EUR",
        "in_stock": pid % 11 != 0,
        "updated_at": _iso(ts - rng.uniform(0, 8.64e7)),
    }


def _shop_session(i: int, rng: random.Random) -> Session:
    sid = f"s{i:07d}"
    w = _SessionWriter(sid, rng, T0 + i * 15_000.0)
    flow = rng.random()
    user = None
    w.view("/", "Shop")
    w.request(
        "GET",
        "/api/recommendations",
        200,
        {
            "items": [rng.randint(1, 500) for _ in range(3)],
            "variant": rng.choice(VARIANTS),
            "score": rng.choice([0.5, 0.7, "high"]),
            "generated_at": "" if rng.random() < 0.1 else _iso(w.ts),
            **({"promo": "SPRING"} if rng.random() < 0.5 else {}),
        },
    )
    if rng.random() < 0.3:
        user = f"user{rng.randint(1, 300)}@example.com"
        w.click("login", "button", "Log in")
        w.fill("email", user)
        token = f"tok{rng.getrandbits(96):024x}"
        w.request(
            "POST",
            "/api/login",
            200,
            {"token": token, "expires_at": _iso(w.ts + 3.6e6)},
            request_body={"email": user, "password": "***"},
        )
        w.headers["authorization"] = f"Bearer {token}"
        w.request(
            "GET",
            "/api/me",
            200,
            {"email": user, "name": "A User", "nickname": None if rng.random() < 0.33 else "nick"},
        )
    if rng.random() < 0.5:
        cat = rng.choice(CATEGORIES)
        w.view(f"/category/{cat}", cat)
        for _ in range(rng.choice((1, 1, 1, 2))):
            status = 500 if rng.random() < 0.03 else 200
            body = {"items": [rng.randint(1, 500)], "total": 1} if status == 200 else {"error": "internal"}
            w.request("GET", f"/api/search?q={cat}", status, body)
    if rng.random() < 0.005:
        w.request("GET", "/api/rare", 200, {"ok": True}, duration=rng.uniform(10, 900))
    viewed: list[int] = []
    for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
        pid = rng.randint(1, 500)
        viewed.append(pid)
        w.click(None, "link", f"Product {pid}")
        w.view(f"/products/product-{pid}", f"Product {pid}")
        slow = rng.random() < 0.02
        w.request(
            "GET",
            f"/api/products/{pid}",
            200,
            _product(rng, pid, w.ts),
            duration=rng.uniform(900, 1500) if slow else None,
        )
    if flow < 0.55:  # buyers
        w.click("add-to-cart", "button", "Add to cart")
        cart = _uuid(rng)
        w.request(
            "POST",
            "/api/cart",
            201,
            {"cart_id": cart, "items": [], "created_at": _iso(w.ts)},
            headers={"location": f"/api/cart/{cart}"},
        )
        total = 0.0
        for pid in viewed[:2]:
            total += 5 + (pid % 97) * 1.5
            w.request(
                "POST",
                f"/api/cart/{cart}/items",
                200,
                {"cart_id": cart, "total": round(total, 2)},
                request_body={"product_id": pid, "qty": 1},
            )
        if rng.random() < 0.01:
            w.custom("add_to_cart_failed", reason="stock")
        if rng.random() < 0.35:
            w.fill("coupon", "SAVE10")
            if rng.random() < 0.3:
                w.request(
                    "POST",
                    f"/api/cart/{cart}/coupon",
                    409,
                    {"error": {"code": "coupon_expired", "message": "This code has expired"}},
                    request_body={"code": "OLD5"},
                )
            else:
                w.request(
                    "POST",
                    f"/api/cart/{cart}/coupon",
                    200,
                    {"discount_pct": 10, "total": round(total * 0.9, 2)},
                    request_body={"code": "SAVE10"},
                )
        if rng.random() < 0.8:
            w.click("checkout", "link", "Checkout")
            w.view("/checkout", "Checkout")
            w.click("pay", "button", "Pay")
            if rng.random() < 0.005:
                w.js_error("TypeError: cannot read properties of undefined (reading 'total')")
            order = _uuid(rng)
            w.request(
                "POST",
                "/api/checkout",
                201,
                {"order_id": order, "status": rng.choice(["paid", "paid", "pending"]), "total": round(total, 2)},
                request_body={"cart_id": cart, "email": user or "guest@example.com"},
            )
            w.view(f"/orders/{order}", "Your order")
            w.request("GET", f"/api/orders/{order}", 200, {"order_id": order, "status": "paid", "items": len(viewed)})
    elif flow < 0.56:  # a rare flow: account deletion
        w.click("account", "link", "Account")
        w.view("/account", "Account")
        w.click(None, "button", "Delete account")
        w.request("DELETE", "/api/me", 204, None)
    return Session.model_validate({"source": "shop", "session_id": sid, "user_id": user, "events": w.events})


def shop_sessions(n: int, seed: int = 7) -> Iterator[Session]:
    """`n` full sessions of the shop, deterministic for a seed."""
    rng = random.Random(seed)
    for i in range(n):
        yield _shop_session(i, rng)


# -- raw steps, for a million sessions ------------------------------------------------------------

_BROWSE = (("GET", "/api/recommendations"),)


def raw_step_sessions(n: int, seed: int = 11) -> Iterator[tuple[str, list[RawStep]]]:
    """`n` sessions as raw steps (see `trodden.synthesis.steps`), a long-tailed journey mix."""
    rng = random.Random(seed)
    rand = rng.random
    randint = rng.randint
    tail_routes = [f"/api/tool{k}" for k in range(40)]  # the long tail: rarely used features
    for i in range(n):
        steps: list[RawStep] = [
            ("page", "view", "/", 0, 0.0),
            ("http", "GET", "/api/recommendations", 200, 20 + 40 * rand()),
        ]
        if rand() < 0.3:
            steps.append(("ui", "click", "test_id=login", 0, 0.0))
            steps.append(("http", "POST", "/api/login", 401 if rand() < 0.05 else 200, 30 + 50 * rand()))
            steps.append(("http", "GET", "/api/me", 200, 10 + 20 * rand()))
        if rand() < 0.5:
            cat = CATEGORIES[randint(0, 4)]
            steps.append(("page", "view", f"/category/{cat}", 0, 0.0))
            for _ in range(1 + (rand() < 0.2)):
                steps.append(("http", "GET", "/api/search", 500 if rand() < 0.01 else 200, 40 + 200 * rand()))
        for _ in range(1 + (rand() < 0.4) + (rand() < 0.2) + (rand() < 0.1)):
            pid = randint(1, 20_000)
            steps.append(("page", "view", f"/products/item-{pid}", 0, 0.0))
            slow = 2000 if rand() < 0.01 else 0
            steps.append(("http", "GET", f"/api/products/{pid}", 200, 15 + 60 * rand() + slow))
        if rand() < 0.08:
            for _ in range(randint(1, 3)):
                steps.append(("http", "GET", tail_routes[int(40 * rand() ** 2)], 200, 30.0))
        flow = rand()
        if flow < 0.5:
            cart = f"{rng.getrandbits(64):016x}-c"
            steps.append(("ui", "click", "test_id=add-to-cart", 0, 0.0))
            steps.append(("http", "POST", "/api/cart", 201, 25 + 30 * rand()))
            cart_path = f"/api/cart/{rng.getrandbits(64):016x}{randint(0, 9)}"
            steps.append(("http", "POST", cart_path + "/items", 200, 20 + 30 * rand()))
            if rand() < 0.01:
                steps.append(("event", "custom", "add_to_cart_failed", 0, 0.0))
            if rand() < 0.3:
                steps.append(("http", "POST", cart_path + "/coupon", 409 if rand() < 0.3 else 200, 30.0))
            if rand() < 0.7:
                steps.append(("page", "view", "/checkout", 0, 0.0))
                steps.append(("ui", "click", "test_id=pay", 0, 0.0))
                if rand() < 0.004:
                    steps.append(("error", "uncaught", "", 0, 0.0))
                steps.append(("http", "POST", "/api/checkout", 500 if rand() < 0.005 else 201, 80 + 300 * rand()))
                order = f"{rng.getrandbits(128):032x}"
                steps.append(("page", "view", f"/orders/{order}", 0, 0.0))
                steps.append(("http", "GET", f"/api/orders/{order}", 200, 20 + 30 * rand()))
            del cart
        elif flow < 0.505:
            steps.append(("page", "view", "/account", 0, 0.0))
            steps.append(("http", "DELETE", "/api/me", 204, 40.0))
        yield f"r{i:08d}", steps


# -- storing sessions like the collector does -----------------------------------------------------

_COLUMNS = {"session_id", "seq", "ts", "kind", "url", "trace_id"}


def event_rows(source: str, session: Session) -> list[tuple[Any, ...]]:
    rows = []
    for ev in session.events:
        doc = EVENT_ADAPTER.dump_python(ev, mode="json", exclude_none=True)
        data = {k: v for k, v in doc.items() if k not in _COLUMNS}
        rows.append(
            (
                source,
                ev.session_id,
                ev.seq,
                datetime.fromtimestamp(ev.ts / 1000, UTC),
                ev.kind,
                ev.url,
                doc.get("trace_id"),
                data,
                session.user_id,
            )
        )
    return rows


async def write_sessions(store: Store, source: str, sessions: Iterable[Session]) -> int:
    """COPY sessions and their events into the store; returns the number of sessions written. The
    trigger on `events` makes each session's row (counts, first/last timestamp, user id); only the
    attributes are the sessions' own."""
    await store.source_key(source)
    attribute_rows: list[tuple[str, str, str]] = []
    rows: list[tuple[Any, ...]] = []
    written = 0
    for s in sessions:
        if not s.events:
            continue
        written += 1
        if s.attributes:
            attribute_rows.append((source, s.session_id, orjson.dumps(s.attributes).decode()))
        rows.extend(event_rows(source, s))
    # COPY is binary and jsonb has no binary encoder here: copy JSON as text, cast while inserting.
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE synth_events_in (source text, session_id text, seq int, ts timestamptz, kind text,"
            " url text, trace_id text, data text, user_id text) ON COMMIT DROP;"
            "CREATE TEMP TABLE synth_attributes_in (source text, session_id text, attributes text) ON COMMIT DROP"
        )
        await conn.copy_records_to_table(
            "synth_events_in", records=[(*r[:7], orjson.dumps(r[7]).decode(), r[8]) for r in rows]
        )
        await conn.copy_records_to_table("synth_attributes_in", records=attribute_rows)
        await conn.execute(
            "INSERT INTO events (source, session_id, seq, ts, kind, url, trace_id, data, user_id)"
            " SELECT source, session_id, seq, ts, kind, url, trace_id, data::jsonb, user_id FROM synth_events_in;"
            "UPDATE sessions s SET attributes = i.attributes::jsonb FROM synth_attributes_in i"
            " WHERE s.source = i.source AND s.session_id = i.session_id"
        )
    return written
