"""Login exchanges in their other shapes: a form login that sets a session cookie (replayed
against a real server: the per-test cookie jar carries it), an `X-…` token header, the fallback
to `headers` profiles when no login is known, and the generate command's credential flags."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from auth_app import USERS, make_auth_app
from click.testing import CliRunner
from synth_miniapp import start

from trodden.cli import main
from trodden.collector.sanitize import Sanitizer
from trodden.models.events import NetworkRequest, Session
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.store import Store
from trodden.synthesis.corpus import write_sessions
from trodden.synthesis.generate import GenerateOptions, SelectedInput, build_suite
from trodden.synthesis.login import LoginLearner, find_login_exchanges
from trodden.synthesis.mining import build_miner

ORIGIN = "http://127.0.0.1:9"  # where the sessions were "recorded": never contacted


def ev(
    seq: int,
    method: str,
    path: str,
    status: int,
    *,
    body: object = None,
    resp: object = None,
    headers: dict[str, str] | None = None,
    resp_headers: dict[str, str] | None = None,
) -> dict[str, object]:
    return {
        "kind": "request",
        "session_id": "s",
        "seq": seq,
        "ts": 1_767_225_600_000.0 + seq,
        "method": method,
        "request_url": ORIGIN + path,
        "status": status,
        "duration_ms": 3.0,
        "request_body": body,
        "response_body": resp,
        "request_headers": headers or {},
        "response_headers": resp_headers or {},
    }


def session(sid: str, events: list[dict[str, object]], key: bytes = b"k" * 32) -> Session:
    """A session as the collector stores it (sanitised: passwords, emails, cookies pseudonymised)."""
    san = Sanitizer(key)
    return Session.model_validate(
        {"source": "t", "session_id": sid, "events": [san.event({**e, "session_id": sid}) for e in events]}
    )


FORM = {"content-type": "application/x-www-form-urlencoded"}
SID = "5f1c2a9be07d4c11a3b2"


def cookie_sessions() -> list[Session]:
    login = session(
        "form-login",
        [
            ev(
                0,
                "POST",
                "/session",
                200,
                body="username=alice%40example.com&password=hunter22",
                headers=FORM,
                resp={"ok": True},
                resp_headers={"set-cookie": f"sid={SID}; HttpOnly; Path=/"},
            ),
            ev(1, "GET", "/account", 200, headers={"cookie": f"sid={SID}"}, resp={"plan": "pro"}),
        ],
    )
    warm = session(
        "warm", [ev(0, "GET", "/account", 200, headers={"cookie": "sid=0a1b2c3d4e5f60718293"}, resp={"plan": "pro"})]
    )
    return [login, warm]


def test_a_form_login_setting_a_cookie_is_learned() -> None:
    login, _ = cookie_sessions()
    found = find_login_exchanges([e for e in login.events if isinstance(e, NetworkRequest)])
    assert len(found) == 1
    ex = found[0]
    assert (ex.method, ex.path, ex.body_kind, ex.source, ex.credential_path, ex.header) == (
        "POST",
        "/session",
        "form",
        "cookie",
        "sid",
        "Cookie",
    )
    assert (ex.username_field, ex.password_field) == ("username", "password")
    assert ex.body["password"] != "hunter22"  # the store only ever held a pseudonym


async def test_cookie_login_profile_replays_against_a_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = cookie_sessions()
    learner = LoginLearner()
    for s in sessions:
        learner.add([e for e in s.events if isinstance(e, NetworkRequest)])
    suite = build_suite(
        "cookies",
        "t",
        [SelectedInput(s) for s in sessions],
        build_miner(sessions),
        login=learner.best(),
        options=GenerateOptions(own_login_credentials=True),
    )
    profiles = {p.name: p for p in suite.auth_profiles}
    login = profiles["login"]
    assert login.headers == {}  # the cookie jar carries the session cookie, no header to set
    assert login.login[0].request.body == {"username": "{{login_username}}", "password": "{{login_password}}"}
    assert login.login[0].request.body_kind == "form"
    assert [(e.source, e.path) for e in login.login[0].extract] == [("cookie", "sid")]
    assert {t.session_id: t.auth_profile for t in suite.tests} == {"form-login": "login-credentials", "warm": "login"}
    # the app's form login takes the email as username
    monkeypatch.setenv("TRODDEN_LOGIN_USERNAME", "alice@example.com")
    monkeypatch.setenv("TRODDEN_LOGIN_PASSWORD", USERS["alice@example.com"])
    runner, base = await start(make_auth_app())
    try:
        report = await replay_suite(None, suite, base, ReplayOptions(retries=0))
        assert {r.session_id: r.outcome for r in report.results} == {"form-login": "passed", "warm": "passed"}, [
            r.failures for r in report.results
        ]
        monkeypatch.setenv("TRODDEN_LOGIN_PASSWORD", "nope")
        report = await replay_suite(None, suite, base, ReplayOptions(retries=0))
        warm = next(r for r in report.results if r.session_id == "warm")
        assert warm.outcome == "failed" and any(f.kind == "login" and f.actual == 401 for f in warm.failures)
    finally:
        await runner.cleanup()


def test_an_x_header_token_is_learned_and_a_stale_recorded_one_is_not_replayed() -> None:
    token = "tk_9a8b7c6d5e4f3a2b1c0d"
    login = session(
        "x-login",
        [
            ev(
                0,
                "POST",
                "/api/auth/login",
                200,
                body={"user": "bob", "pass": "pw123456"},
                resp={"auth": {"token": token}},
            ),
            ev(1, "GET", "/api/me", 200, headers={"X-Session-Token": token}, resp={"id": 2}),
        ],
    )
    warm = session(
        "x-warm", [ev(0, "GET", "/api/me", 200, headers={"X-Session-Token": "tk_old_0000000000000"}, resp={"id": 2})]
    )
    learner = LoginLearner()
    for s in (login, warm):
        learner.add([e for e in s.events if isinstance(e, NetworkRequest)])
    ex = learner.best()
    assert ex is not None and ex.header == "X-Session-Token" and ex.credential_path == "/auth/token"
    suite = build_suite("x", "t", [SelectedInput(warm)], build_miner([login, warm]), login=ex)
    test = suite.tests[0]
    assert test.auth_profile == "login"
    assert "X-Session-Token" not in test.steps[0].request.headers  # the stale token is not sent
    profile = suite.auth_profiles[0]
    assert profile.headers["X-Session-Token"].value == "{{login_token}}"
    assert profile.login[0].request.body == {"user": "{{login_username}}", "pass": "{{login_password}}"}


def test_without_a_known_login_credentials_stay_a_headers_profile() -> None:
    warm = session(
        "w", [ev(0, "GET", "/api/me", 200, headers={"Authorization": "Bearer abcdef0123456789"}, resp={"id": 1})]
    )
    learner = LoginLearner()
    learner.add([e for e in warm.events if isinstance(e, NetworkRequest)])
    assert learner.best() is None
    suite = build_suite("h", "t", [SelectedInput(warm)], build_miner([warm]), login=learner.best())
    assert [(p.name, p.kind) for p in suite.auth_profiles] == [("session-auth", "headers")]
    assert suite.auth_profiles[0].headers["Authorization"].env == "TRODDEN_AUTH_AUTHORIZATION"


def test_registration_does_not_beat_a_more_frequent_login() -> None:
    def flow(sid: str, path: str) -> list[NetworkRequest]:
        s = session(
            sid,
            [
                ev(0, "POST", path, 200, body={"email": "a@b.co", "password": "pw123456"}, resp={"token": "t" * 20}),
                ev(1, "GET", "/api/me", 200, headers={"Authorization": "Bearer " + "t" * 20}, resp={"id": 1}),
            ],
        )
        return [e for e in s.events if isinstance(e, NetworkRequest)]

    learner = LoginLearner()
    learner.add(flow("r", "/api/register"))
    learner.add(flow("l1", "/api/sign-in"))
    learner.add(flow("l2", "/api/sign-in"))
    best = learner.best()
    assert best is not None and best.path == "/api/sign-in"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
async def cookie_store(store: Store) -> AsyncIterator[Store]:
    # two returning users: a lone-step journey seen once would be a glitch to `select`, not a test
    again = session(
        "warm-2", [ev(0, "GET", "/account", 200, headers={"cookie": "sid=9f8e7d6c5b4a39281706"}, resp={"plan": "pro"})]
    )
    await write_sessions(store, "t", [*cookie_sessions(), again])
    yield store


def test_generate_takes_login_credentials_from_secrets(cookie_store: Store, dsn: str, tmp_path: Path) -> None:
    assert cli("select", "--dsn", dsn, "--source", "t", "--json")[0] == 0
    code, _, err = cli(
        "generate",
        "--dsn",
        dsn,
        "--source",
        "t",
        "--suite",
        "s",
        "--no-browser",
        "--login-username-secret",
        "shop-login/username",
        "--login-password-secret",
        "shop-login/password",
        "--own-login-credentials",
    )
    assert code == 0, err
    code, _, err = cli("export", "--dsn", dsn, "--suite", "s", "-o", str(tmp_path))
    assert code == 0, err
    doc = json.loads((tmp_path / "s.suite.json").read_text())
    login = next(p for p in doc["auth_profiles"] if p["name"] == "login")
    assert login["variables"]["login_password"]["secret"] == "shop-login/password"
    assert login["variables"]["login_username"]["secret"] == "shop-login/username"
    own = next(p for p in doc["auth_profiles"] if p["name"] == "login-credentials")
    assert own["login"] == [] and own["variables"]["login_password"]["secret"] == "shop-login/password"
    code, _, err = cli("generate", "--dsn", dsn, "--source", "t", "--suite", "s", "--login-password-secret", "nokey")
    assert code == 2 and "--login-password-secret 'nokey' is not SECRET/KEY" in err
    code, _, err = cli("generate", "--dsn", dsn, "--source", "t", "--suite", "s", "--login-username-env", "A-B")
    assert code == 2 and "not an environment variable name" in err
