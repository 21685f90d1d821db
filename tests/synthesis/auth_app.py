"""A small real API with accounts for the login-flow tests: `POST /api/login` (JSON email and
password → a bearer token, or 401), `POST /session` (a form → a `sid` cookie), and pages that
need one of them. Tokens are fresh per server instance, so a recorded token is useless against
another instance: only a test that logs in again gets through."""

from __future__ import annotations

import secrets

from aiohttp import web

USERS = {"alice@example.com": "correct horse battery", "bob@example.com": "tr0ub4dor&3"}


def make_auth_app() -> web.Application:
    tokens: dict[str, str] = {}  # token -> email
    sids: dict[str, str] = {}  # session cookie -> email

    def bearer_user(request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def unauthorized() -> web.Response:
        return web.json_response({"error": {"code": "unauthorized", "message": "log in"}}, status=401)

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        email, password = body.get("email"), body.get("password")
        if USERS.get(email) != password:
            return unauthorized()
        token = secrets.token_hex(24)
        tokens[token] = email
        return web.json_response({"token": token, "expires_in": 3600})

    async def me(request: web.Request) -> web.Response:
        user = bearer_user(request)
        if user is None:
            return unauthorized()
        return web.json_response({"id": sorted(USERS).index(user) + 1, "plan": "pro"})

    async def orders(request: web.Request) -> web.Response:
        if bearer_user(request) is None:
            return unauthorized()
        return web.json_response({"orders": [{"id": 1, "status": "paid"}], "count": 1})

    async def form_login(request: web.Request) -> web.Response:
        form = await request.post()
        email, password = str(form.get("username", "")), str(form.get("password", ""))
        if USERS.get(email) != password:
            return unauthorized()
        sid = secrets.token_hex(16)
        sids[sid] = email
        resp = web.json_response({"ok": True})
        resp.set_cookie("sid", sid, httponly=True)
        return resp

    async def account(request: web.Request) -> web.Response:
        if request.cookies.get("sid") not in sids:
            return unauthorized()
        return web.json_response({"plan": "pro"})

    app = web.Application()
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/orders", orders)
    app.router.add_post("/session", form_login)
    app.router.add_get("/account", account)
    return app
