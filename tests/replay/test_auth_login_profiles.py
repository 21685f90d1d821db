"""Replay of `kind: login` auth profiles against a real server: credentials from Kubernetes Secret
references (read from TRODDEN_SECRET_<NAME>_<KEY>, as the operator mounts them), a refused login
named once, and missing credentials skipping the test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from aiohttp import web
from replay_shop import serve

from trodden.models.suite import (
    AuthProfile,
    Expectation,
    Extraction,
    HttpRequest,
    HttpStep,
    Suite,
    TestCase,
    ValueFrom,
)
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite


def _app() -> web.Application:
    tokens: set[str] = set()

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        if (body.get("user"), body.get("password")) != ("carol", "s3cret-pass"):
            return web.json_response({"error": "bad credentials"}, status=401)
        token = secrets.token_hex(16)
        tokens.add(token)
        return web.json_response({"session": {"token": token}})

    async def me(request: web.Request) -> web.Response:
        if request.headers.get("X-Auth", "") not in tokens:
            return web.json_response({"error": "log in"}, status=401)
        return web.json_response({"name": "carol"})

    app = web.Application()
    app.router.add_post("/login", login)
    app.router.add_get("/me", me)
    return app


@pytest.fixture(scope="module")
def auth_server() -> Iterator[str]:
    with serve(_app()) as url:
        yield url


def _suite() -> Suite:
    login = HttpStep(
        id="login1",
        endpoint="POST /login",
        unsafe=True,
        expect=Expectation(status=200),
        request=HttpRequest(
            method="POST",
            url="{{origin}}/login",
            body_kind="json",
            body={"user": "{{login_username}}", "password": "{{login_password}}"},
        ),
        extract=[Extraction(var="login_token", source="json", path="/session/token")],
    )
    profile = AuthProfile(
        name="login",
        kind="login",
        login=[login],
        headers={"X-Auth": ValueFrom(value="{{login_token}}")},
        variables={
            "login_username": ValueFrom(secret="app-login/username"),
            "login_password": ValueFrom(secret="app-login/password"),
        },
    )
    me = HttpStep(
        id="s1",
        endpoint="GET /me",
        expect=Expectation(status=200, values={"/name": "carol"}),
        request=HttpRequest(method="GET", url="{{origin}}/me"),
    )
    test = TestCase(id="http-me", name="GET /me", type="http", session_id="s", auth_profile="login", steps=[me])
    return Suite(
        name="auth",
        revision=1,
        source="t",
        origin="http://127.0.0.1:9",
        created_at="2026-01-01T00:00:00Z",
        tests=[test],
        auth_profiles=[profile],
    )


async def test_login_profile_with_secret_credentials(auth_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRODDEN_SECRET_APP_LOGIN_USERNAME", "carol")
    monkeypatch.setenv("TRODDEN_SECRET_APP_LOGIN_PASSWORD", "s3cret-pass")
    report = await replay_suite(None, _suite(), auth_server, ReplayOptions(retries=0))
    assert [r.outcome for r in report.results] == ["passed"], report.results[0].failures

    monkeypatch.setenv("TRODDEN_SECRET_APP_LOGIN_PASSWORD", "guess")
    report = await replay_suite(None, _suite(), auth_server, ReplayOptions(retries=0))
    result = report.results[0]
    assert result.outcome == "failed"
    assert [f.assertion_id for f in result.failures] == ["expect:status", "exec:login"]
    assert "answered 401" in result.failures[1].description
    assert "secret app-login/password" in result.failures[1].description
    assert "guess" not in result.failures[1].description  # names where credentials come from, never values

    monkeypatch.delenv("TRODDEN_SECRET_APP_LOGIN_USERNAME")
    report = await replay_suite(None, _suite(), auth_server, ReplayOptions(retries=0))
    assert report.results[0].outcome == "skipped"
    assert "TRODDEN_SECRET_APP_LOGIN_USERNAME" in (report.results[0].reason or "")
