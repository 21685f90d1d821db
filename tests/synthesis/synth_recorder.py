"""Record real sessions against a running server the way the collector would store them:
request events with headers and bodies, from a scripted but varied user."""

from __future__ import annotations

import random
import time
from typing import Any

import aiohttp

from trodden.models.events import Session


class Recorder:
    def __init__(self, base: str, session_id: str, http: aiohttp.ClientSession) -> None:
        self.base = base
        self.sid = session_id
        self.http = http
        self.events: list[dict[str, Any]] = []
        self.headers: dict[str, str] = {"accept": "application/json"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = dict(self.headers)
        if body is not None:
            headers["content-type"] = "application/json"
        started = time.monotonic()
        async with self.http.request(
            method, self.base + path, json=body, headers=headers, allow_redirects=False
        ) as resp:
            payload = await resp.json()
            duration = (time.monotonic() - started) * 1000
            self.events.append(
                {
                    "kind": "request",
                    "session_id": self.sid,
                    "seq": len(self.events),
                    "ts": 1_767_225_600_000.0 + len(self.events) * 1000,
                    "initiator": "fetch",
                    "method": method,
                    "request_url": self.base + path,
                    "status": resp.status,
                    "duration_ms": round(duration, 2),
                    "request_headers": headers,
                    "response_headers": {k.lower(): v for k, v in resp.headers.items()},
                    "request_body": body,
                    "response_body": payload,
                }
            )
            return payload

    def session(self) -> Session:
        return Session.model_validate({"source": "mini", "session_id": self.sid, "events": self.events})


async def record_checkout(base: str, session_id: str, rng: random.Random, *, coupon: str | None = None) -> Session:
    """Browse, log in, create a cart, add items, maybe a coupon, check out, view the order."""
    async with aiohttp.ClientSession() as http:
        r = Recorder(base, session_id, http)
        pids = [rng.randint(1, 60) for _ in range(2)]
        for pid in pids:
            await r.call("GET", f"/api/products/{pid}")
        login = await r.call("POST", "/api/login", {"email": f"u{rng.randint(1, 9)}@example.com", "password": "x"})
        r.headers["authorization"] = f"Bearer {login['token']}"
        cart = await r.call("POST", "/api/cart")
        for pid in pids:
            await r.call("POST", f"/api/cart/{cart['cart_id']}/items", {"product_id": pid, "qty": 1})
        if coupon:
            await r.call("POST", f"/api/cart/{cart['cart_id']}/coupon", {"code": coupon})
        order = await r.call("POST", "/api/checkout", {"cart_id": cart["cart_id"]})
        await r.call("GET", f"/api/orders/{order['order_id']}")
        return r.session()
