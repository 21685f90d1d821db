"""Login-flow auth profiles, end to end: sessions recorded against a real API and sanitised as the
collector stores them (pseudonymised emails, passwords and tokens); generation learns the login
exchange; replay against a fresh server instance logs in with credentials from the environment.
Sessions that started logged in pass with the right credentials and fail on the login's 401 with
wrong ones."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from auth_app import USERS, make_auth_app
from synth_miniapp import start
from synth_recorder import Recorder

from trodden.collector.sanitize import Sanitizer
from trodden.models.events import Session
from trodden.models.suite import Suite
from trodden.replay.options import ReplayOptions
from trodden.replay.results import RunReport
from trodden.replay.runner import replay_suite
from trodden.store import Store
from trodden.synthesis.api import generate_suite, select_sessions
from trodden.synthesis.corpus import write_sessions
from trodden.synthesis.export import export_pytest
from trodden.synthesis.generate import GenerateOptions
from trodden.synthesis.selection import SelectOptions
from trodden.synthesis.strategies import parse_strategies

SOURCE = "accounts"


def _sanitised(r: Recorder, san: Sanitizer) -> Session:
    return Session.model_validate({"source": SOURCE, "session_id": r.sid, "events": [san.event(e) for e in r.events]})


async def _record(base: str, store: Store) -> list[Session]:
    """Three sessions that log in, three that started already logged in (their token was obtained
    before the recording began), all stored the way the collector stores them."""
    san = Sanitizer(await store.source_key(SOURCE))
    sessions: list[Session] = []
    async with aiohttp.ClientSession() as http:
        for i, email in enumerate(["alice@example.com", "bob@example.com", "alice@example.com"]):
            r = Recorder(base, f"login-{i}", http)
            out = await r.call("POST", "/api/login", {"email": email, "password": USERS[email]})
            r.headers["authorization"] = f"Bearer {out['token']}"
            await r.call("GET", "/api/me")
            await r.call("GET", "/api/orders")
            sessions.append(_sanitised(r, san))
        for i, email in enumerate(["bob@example.com", "alice@example.com", "bob@example.com"]):
            async with http.post(base + "/api/login", json={"email": email, "password": USERS[email]}) as resp:
                token = (await resp.json())["token"]
            r = Recorder(base, f"warm-{i}", http)
            r.headers["authorization"] = f"Bearer {token}"
            await r.call("GET", "/api/orders")
            await r.call("GET", "/api/me")
            sessions.append(_sanitised(r, san))
    await write_sessions(store, SOURCE, sessions)
    return sessions


async def _suite(store: Store, *, own_logins: bool = True) -> Suite:
    recording, base = await start(make_auth_app())
    try:
        await _record(base, store)
    finally:
        await recording.cleanup()
    options = SelectOptions(strategies=parse_strategies(["frequent:10"]), max_sessions=10, similarity=1.0)
    await select_sessions(store, SOURCE, options)
    return await generate_suite(
        store, SOURCE, "accounts", options=GenerateOptions(browser=False, own_login_credentials=own_logins)
    )


async def _replay(suite: Suite) -> RunReport:
    fresh, base = await start(make_auth_app())  # a new instance: recorded tokens mean nothing here
    try:
        return await replay_suite(None, suite, base, ReplayOptions(retries=0, concurrency=2))
    finally:
        await fresh.cleanup()


def _by_session(report: RunReport, suite: Suite) -> dict[str, Any]:
    kinds = {t.id: t.session_id.split("-")[0] for t in suite.tests}
    out: dict[str, list[Any]] = {}
    for r in report.results:
        out.setdefault(kinds[r.test_id], []).append(r)
    return out


async def test_login_profile_is_learned_and_replays_with_env_credentials(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = await _suite(store)
    profiles = {p.name: p for p in suite.auth_profiles}
    assert set(profiles) == {"login", "login-credentials"}
    login = profiles["login"]
    assert login.kind == "login" and len(login.login) == 1
    step = login.login[0]
    assert step.endpoint == "POST /api/login" and step.request.url == "{{origin}}/api/login"
    # the pseudonymised credentials of the recording are gone from the body: the profile's variables fill it
    assert step.request.body == {"email": "{{login_username}}", "password": "{{login_password}}"}
    assert [(e.var, e.source, e.path) for e in step.extract] == [("login_token", "json", "/token")]
    assert login.headers["authorization"].value == "Bearer {{login_token}}"
    assert {v: ref.env for v, ref in login.variables.items()} == {
        "login_username": "TRODDEN_LOGIN_USERNAME",
        "login_password": "TRODDEN_LOGIN_PASSWORD",
    }
    warm = [t for t in suite.tests if t.session_id.startswith("warm")]
    own = [t for t in suite.tests if t.session_id.startswith("login")]
    assert warm and all(t.auth_profile == "login" for t in warm)
    assert all("authorization" not in {k.lower() for k in s.request.headers} for t in warm for s in t.steps)
    # a session that logged in itself keeps its login request, with the credentials templated
    assert own and all(t.auth_profile == "login-credentials" for t in own)
    assert own[0].steps[0].request.body == {"email": "{{login_username}}", "password": "{{login_password}}"}

    monkeypatch.setenv("TRODDEN_LOGIN_USERNAME", "alice@example.com")
    monkeypatch.setenv("TRODDEN_LOGIN_PASSWORD", USERS["alice@example.com"])
    report = await _replay(suite)
    outcomes = {k: [r.outcome for r in v] for k, v in _by_session(report, suite).items()}
    assert outcomes["warm"] and set(outcomes["warm"]) == {"passed"}, report.model_dump_json(indent=1)[:3000]
    assert set(outcomes["login"]) == {"passed"}, report.model_dump_json(indent=1)[:3000]

    monkeypatch.setenv("TRODDEN_LOGIN_PASSWORD", "not the password")
    report = await _replay(suite)
    for result in _by_session(report, suite)["warm"]:
        assert result.outcome == "failed"
        assert result.failures[0].step_id == "login:login1" and result.failures[0].actual == 401
        login_failure = next(f for f in result.failures if f.kind == "login")
        assert "answered 401" in login_failure.description and "TRODDEN_LOGIN_PASSWORD" in login_failure.description
        assert not any(f.kind == "correlation" for f in result.failures)  # no cascade after the refusal

    monkeypatch.delenv("TRODDEN_LOGIN_PASSWORD")
    report = await _replay(suite)
    assert {r.outcome for r in report.results} == {"skipped"}
    assert all("TRODDEN_LOGIN_PASSWORD" in (r.reason or "") for r in report.results)


async def test_exported_pytest_files_log_in_with_env_credentials(store: Store, tmp_path: Path) -> None:
    suite = await _suite(store)
    export_pytest(suite, tmp_path)
    fresh, base = await start(make_auth_app())
    try:
        env = {
            **os.environ,
            "TRODDEN_LOGIN_USERNAME": "bob@example.com",
            "TRODDEN_LOGIN_PASSWORD": USERS["bob@example.com"],
        }
        ok, out = await _pytest(tmp_path, base, env)
        assert ok == 0 and "2 passed" in out, out
        ok, out = await _pytest(tmp_path, base, {**env, "TRODDEN_LOGIN_PASSWORD": "wrong"})
        assert ok == 1 and "2 failed" in out and "401" in out, out
    finally:
        await fresh.cleanup()


async def _pytest(folder: Path, target: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        str(folder),
        "--target",
        target,
        "-q",
        "--tb=line",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    stdout, _ = await proc.communicate()
    return proc.returncode or 0, stdout.decode()


async def test_sessions_logging_in_themselves_keep_their_request_by_default(store: Store) -> None:
    """A session may register the account it logs in with: without --own-login-credentials its
    login request stays as recorded; sessions that started logged in still get the login profile."""
    suite = await _suite(store, own_logins=False)
    assert [p.name for p in suite.auth_profiles] == ["login"]
    own = next(t for t in suite.tests if t.session_id.startswith("login"))
    assert own.auth_profile is None
    body = own.steps[0].request.body
    assert isinstance(body, dict) and "{{login_password}}" not in body.values()
    assert all(t.auth_profile == "login" for t in suite.tests if t.session_id.startswith("warm"))
