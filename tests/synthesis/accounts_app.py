"""A small notes API in the manner of Kinto, for the session-state tests: users sign up with
`POST /v1/accounts {"data": {"id": NAME, "password": PW}}` and then send HTTP Basic (a new
password: `PUT /v1/accounts/NAME` with the old one); notes get
short ids (`"8"`, counting per server), so a replay that sends the recorded id gets someone
else's note or a 404; the root document echoes the server's own origin (`"url"`).
`broken` plants regressions: "title_null" (a note's title became null on read)."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web


def make_app(broken: frozenset[str] = frozenset()) -> web.Application:
    accounts: dict[str, str] = {}
    notes: dict[str, dict[str, Any]] = {}
    counter = [0]

    def user_of(request: web.Request) -> str | None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        return user if accounts.get(user) == password else None

    def denied() -> web.Response:
        return web.json_response({"code": 401, "errno": 104, "error": "Unauthorized"}, status=401)

    async def root(request: web.Request) -> web.Response:
        url = f"{request.scheme}://{request.host}/v1/"
        return web.json_response({"project_name": "notes", "url": url, "user": user_of(request)})

    async def signup(request: web.Request) -> web.Response:
        data = (await request.json())["data"]
        if data["id"] in accounts:
            return web.json_response({"code": 409, "errno": 122, "error": "Conflict"}, status=409)
        accounts[data["id"]] = data["password"]
        return web.json_response(
            {"data": {"id": data["id"]}, "permissions": {"write": [f"account:{data['id']}"]}}, status=201
        )

    async def change_password(request: web.Request) -> web.Response:
        user = user_of(request)
        if user is None or user != request.match_info["name"]:
            return denied()
        accounts[user] = (await request.json())["data"]["password"]
        return web.json_response({"data": {"id": user}})

    async def create(request: web.Request) -> web.Response:
        user = user_of(request)
        if user is None:
            return denied()
        counter[0] += 1
        nid = str(counter[0])
        notes[nid] = {"id": nid, "owner": user, "title": (await request.json())["data"]["title"]}
        return web.json_response({"data": {"id": nid, "title": notes[nid]["title"]}}, status=201)

    async def read(request: web.Request) -> web.Response:
        user = user_of(request)
        if user is None:
            return denied()
        note = notes.get(request.match_info["nid"])
        if note is None or note["owner"] != user:
            return web.json_response({"code": 404, "errno": 110, "error": "Not Found"}, status=404)
        title = None if "title_null" in broken else note["title"]
        return web.json_response({"data": {"id": note["id"], "title": title}})

    async def listing(request: web.Request) -> web.Response:
        user = user_of(request)
        if user is None:
            return denied()
        mine = [{"id": n["id"], "title": n["title"]} for n in notes.values() if n["owner"] == user]
        return web.json_response({"data": mine})

    app = web.Application()
    app.router.add_get("/v1/", root)
    app.router.add_post("/v1/accounts", signup)
    app.router.add_put("/v1/accounts/{name}", change_password)
    app.router.add_post("/v1/notes", create)
    app.router.add_get("/v1/notes", listing)
    app.router.add_get("/v1/notes/{nid}", read)
    return app
