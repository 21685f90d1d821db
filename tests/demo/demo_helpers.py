"""Helpers of the demo's tests: a JSON client of the shop, and serving an app on loopback."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web


class ShopClient:
    """A JSON client with its own shop session (the X-Session-Token an API client uses)."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.token: str | None = None

    async def call(self, method: str, path: str, body: Any = None, raw: str | None = None) -> tuple[int, Any]:
        headers = {"X-Session-Token": self.token} if self.token else {}
        kwargs: dict[str, Any] = {"json": body} if body is not None else ({"data": raw} if raw is not None else {})
        async with self.http.request(method, self.base + path, headers=headers, **kwargs) as r:
            text = await r.text()
            return r.status, (
                await r.json(content_type=None)
            ) if text and r.content_type == "application/json" else text

    async def start(self, region: str | None = None) -> ShopClient:
        status, body = await self.call("POST", "/api/sessions")
        assert status == 201, body
        self.token = body["session"]["token"]
        if region:
            assert (await self.call("PUT", "/api/cart/region", {"region": region}))[0] == 200
        return self


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"
