"""Sessions that carry their own state replay on a fresh deployment: an account signed up inside
the session and then used with HTTP Basic needs no environment variable, gets a fresh name on
every execution (so repeated runs and the baseline's passes never collide), and short ids
(`{"id": "8"}`) are carried from the response that produced them to the request that reuses them."""

from __future__ import annotations

import base64
import random

import aiohttp
from accounts_app import make_app
from synth_recorder import Recorder
from test_any_prefix import serve

from trodden.collector.sanitize import Sanitizer
from trodden.models.events import NetworkRequest, Session
from trodden.models.suite import HttpStep, Suite
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.synthesis.accounts import SignupLearner
from trodden.synthesis.correlate import correlate
from trodden.synthesis.generate import GenerateOptions, SelectedInput, api_requests, build_suite
from trodden.synthesis.mining import build_miner

KEY = b"k" * 32


def sanitised(session: Session) -> Session:
    """The session as the collector stores it: passwords and Basic credentials pseudonymised."""
    san = Sanitizer(KEY)
    events = [san.event(ev.model_dump(mode="json", exclude_none=True)) for ev in session.events]
    return Session.model_validate({"source": "notes", "session_id": session.session_id, "events": events})


async def record_user(base: str, sid: str, rng: random.Random, *, returning: tuple[str, str] | None = None) -> Session:
    """A user signing up and using the account; `returning`: an existing account's (name, password)."""
    async with aiohttp.ClientSession() as http:
        r = Recorder(base, sid, http)
        name, password = returning or (f"user{rng.randint(100, 999)}{sid}", f"pw-{rng.randint(10**6, 10**7)}-secret")
        await r.call("GET", "/v1/")
        if returning is None:
            await r.call("POST", "/v1/accounts", {"data": {"id": name, "password": password}})
        r.headers["authorization"] = "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()
        await r.call("GET", "/v1/")
        for _ in range(rng.randint(1, 3)):
            note = await r.call("POST", "/v1/notes", {"data": {"title": f"note {rng.randint(1, 9)}"}})
            await r.call("GET", f"/v1/notes/{note['data']['id']}" if "data" in note else "/v1/notes/1")
        await r.call("GET", "/v1/notes")
        return sanitised(r.session())


def http_steps(suite: Suite) -> list[HttpStep]:
    return [s for t in suite.tests for s in t.steps if isinstance(s, HttpStep)]


async def notes_suite(n: int = 8, returning: int = 0) -> Suite:
    rng = random.Random(3)
    async with serve(make_app()) as recorded:
        sessions = [await record_user(recorded, f"s{i}", rng) for i in range(n)]
        async with aiohttp.ClientSession() as http:
            for i in range(returning):
                name, password = f"old{i}", f"pw-old-{i}-secret"
                await http.post(recorded + "/v1/accounts", json={"data": {"id": name, "password": password}})
                sessions.append(await record_user(recorded, f"r{i}", rng, returning=(name, password)))
    miner = build_miner(sessions)
    signups = SignupLearner(miner.templater)  # as generate_suite learns it, over every session
    for session in sessions:
        signups.add(api_requests(session))
    selected = [SelectedInput(s, ["test"], s.session_id) for s in sessions]
    return build_suite("notes", "notes", selected, miner, options=GenerateOptions(browser=False), signup=signups.best())


async def test_an_account_made_in_the_session_is_correlated_like_any_value() -> None:
    suite = await notes_suite()
    assert not suite.auth_profiles, "credentials the session established itself need no profile"
    for test in suite.tests:
        assert test.auth_profile is None and test.unique == ["account_id"]
        signup = test.steps[1]
        assert isinstance(signup, HttpStep)
        assert signup.request.body == {"data": {"id": "{{account_id}}", "password": "{{account_password}}"}}
        later = test.steps[2]
        assert isinstance(later, HttpStep)
        assert later.request.headers["authorization"] == "Basic {{basic(account_id, account_password)}}"
        reads = [s for s in test.steps if isinstance(s, HttpStep) and s.endpoint == "GET /v1/notes/{id}"]
        assert reads and all("{{" in s.request.url for s in reads), "short ids are carried by provenance"

    # the root document echoes the server's own URL: no expectation holds the recorded origin
    assert suite.origin and not any(suite.origin in str(s.expect.values) for s in http_steps(suite))
    async with serve(make_app()) as fresh:
        options = ReplayOptions(allow_unsafe_on_origin=True, retries=0)
        for _ in range(2):  # the same deployment twice: fresh account names, no 409
            report = await replay_suite(None, suite, fresh, options)
            assert report.counts.passed == report.counts.total == len(suite.tests), [
                (r.test_id, [f.description for f in r.failures]) for r in report.results
            ]
        async with serve(make_app()) as baseline:
            with_baseline = await replay_suite(
                None, suite, fresh, ReplayOptions(allow_unsafe_on_origin=True, retries=0, baseline=baseline)
            )
        assert with_baseline.counts.total == len(suite.tests) and with_baseline.counts.passed > 0
        assert all(
            r.outcome == "passed" or (r.outcome == "flaky" and r.flaky_cause == "timing") for r in with_baseline.results
        ), [(r.test_id, [f.description for f in r.failures]) for r in with_baseline.results]
    async with serve(make_app(frozenset({"title_null"}))) as broken:
        bad = await replay_suite(None, suite, broken, ReplayOptions(allow_unsafe_on_origin=True, retries=0))
    assert bad.counts.failed == len(suite.tests)


def _request(
    i: int, method: str, path: str, status: int, *, body: object = None, resp: object = None
) -> NetworkRequest:
    return NetworkRequest.model_validate(
        {
            "kind": "request",
            "session_id": "s",
            "seq": i,
            "ts": 1000.0 + i,
            "method": method,
            "request_url": f"http://api.test{path}",
            "status": status,
            "request_body": body,
            "response_body": resp,
            "duration_ms": 5.0,
        }
    )


def test_short_ids_are_correlated_by_provenance_not_by_looks() -> None:
    reqs = [
        _request(0, "GET", "/api/settings", 200, resp={"page_size": 20, "version": "3"}),
        _request(1, "POST", "/api/items", 201, body={"name": "a"}, resp={"id": "8", "rank": 3}),
        _request(2, "GET", "/api/items/8", 200, resp={"id": 8, "parent_id": 3}),
        _request(3, "GET", "/api/items?parent_id=3&limit=20", 200, resp=[]),
        _request(4, "POST", "/api/links", 201, body={"item_id": 8, "note": "3"}, resp={"id": 12}),
    ]
    corr = correlate(reqs)
    urls = [r.request.url for r in corr.requests]
    assert urls[2] == "{{origin}}/api/items/{{id}}"
    assert corr.requests[1].extract[0].path == "/id"
    assert urls[3] == "{{origin}}/api/items?parent_id={{parent_id}}&limit=20"  # 20 is a page size, not an id
    assert corr.requests[4].request.body == {"item_id": "{{id}}", "note": "3"}  # a note is not an id
    assert [e.path for e in corr.requests[2].extract] == ["/parent_id"]


def test_a_recorded_value_naming_the_origin_names_the_target_on_replay() -> None:
    from trodden.assertions import Observation, check_expectation
    from trodden.models.suite import Expectation
    from trodden.replay.noise import own_origin
    from trodden.synthesis.generate import _origin_template

    recorded = _origin_template("Docs at http://API.test:8080/v1/docs", "http://api.test:8080")
    assert recorded == "Docs at {{origin}}/v1/docs"
    expect = Expectation(values={"/help": recorded, "/n": 3})

    def seen(url: str, help_text: str) -> Observation:
        return Observation(
            method="GET",
            url=url,
            endpoint="GET /v1/",
            status=200,
            headers={},
            body={"help": help_text, "n": 3},
            duration_ms=1.0,
            is_json=True,
        )

    assert check_expectation(expect, seen("http://127.0.0.1:9/v1/", "Docs at http://127.0.0.1:9/v1/docs")) == []
    [unmet] = check_expectation(expect, seen("http://127.0.0.1:9/v1/", "Docs at http://api.test:8080/v1/docs"))
    assert unmet.id == "expect:value:/help"
    assert own_origin("http://127.0.0.1:9/v1/", "http://127.0.0.1:9", "127.0.0.1:9") == "{origin}/v1/"
    assert own_origin("ws://127.0.0.1:9/feed", "http://127.0.0.1:9", "127.0.0.1:9") == "ws://{host}/feed"


async def test_returning_users_replay_with_a_synthesised_signup() -> None:
    """Sessions that send credentials they never established get the setup other sessions show:
    a fresh account per execution (the learned signup), then Basic; no environment variable."""
    suite = await notes_suite(4, returning=3)
    returning = [t for t in suite.tests if t.session_id.startswith("r")]
    assert len(returning) == 3 and {t.auth_profile for t in returning} == {"signup"}
    (profile,) = suite.auth_profiles
    assert profile.unique == ["account_id"] and profile.login[0].endpoint == "POST /v1/accounts"
    assert profile.headers["Authorization"].value == "Basic {{basic(account_id, account_password)}}"
    async with serve(make_app()) as fresh, serve(make_app()) as baseline:
        report = await replay_suite(
            None, suite, fresh, ReplayOptions(allow_unsafe_on_origin=True, retries=0, baseline=baseline)
        )
    # every test replays (a loaded machine may make one slow exchange: flaky, cause timing, never failed)
    assert report.counts.total == len(suite.tests) and report.counts.passed > 0, report.counts
    assert all(r.outcome == "passed" or (r.outcome == "flaky" and r.flaky_cause == "timing") for r in report.results), [
        (r.test_id, r.reason, [f.description for f in r.failures]) for r in report.results
    ]


async def test_a_password_the_session_changed_is_correlated_too() -> None:
    """Sign up, change the password, go on with the new one: the new password is the session's own
    state as well (a second variable), so the test needs no profile and replays on a fresh app."""
    async with serve(make_app()) as recorded, aiohttp.ClientSession() as http:
        r = Recorder(recorded, "c1", http)
        await r.call("POST", "/v1/accounts", {"data": {"id": "carol", "password": "pw-first-secret"}})
        r.headers["authorization"] = "Basic " + base64.b64encode(b"carol:pw-first-secret").decode()
        await r.call("POST", "/v1/notes", {"data": {"title": "one"}})
        await r.call("PUT", "/v1/accounts/carol", {"data": {"password": "pw-second-secret"}})
        r.headers["authorization"] = "Basic " + base64.b64encode(b"carol:pw-second-secret").decode()
        await r.call("GET", "/v1/notes")
        session = sanitised(r.session())
    miner = build_miner([session])
    suite = build_suite(
        "notes", "notes", [SelectedInput(session, ["test"], "c1")], miner, options=GenerateOptions(browser=False)
    )
    [test] = suite.tests
    assert test.auth_profile is None and not suite.auth_profiles
    steps = [s for s in test.steps if isinstance(s, HttpStep)]
    assert steps[2].request.body == {"data": {"password": "{{account_password_2}}"}}
    assert steps[2].request.headers["authorization"] == "Basic {{basic(account_id, account_password)}}"
    assert steps[3].request.headers["authorization"] == "Basic {{basic(account_id, account_password_2)}}"
    async with serve(make_app()) as fresh:
        report = await replay_suite(None, suite, fresh, ReplayOptions(allow_unsafe_on_origin=True, retries=0))
    assert report.counts.passed == 1, [(r.reason, [f.description for f in r.failures]) for r in report.results]


def test_the_next_page_a_response_hands_over_is_requested_as_given() -> None:
    first = "http://api.test/v1/records?_limit=2&_token=eyJsYXN0IjogMTd9"
    reqs = [
        NetworkRequest.model_validate(
            {
                "kind": "request",
                "session_id": "s",
                "seq": 0,
                "ts": 1.0,
                "method": "GET",
                "duration_ms": 3.0,
                "request_url": "http://api.test/v1/records?_limit=2",
                "status": 200,
                "response_body": {"data": []},
                "response_headers": {"Next-Page": first},
            }
        ),
        NetworkRequest.model_validate(
            {
                "kind": "request",
                "session_id": "s",
                "seq": 1,
                "ts": 2.0,
                "method": "GET",
                "duration_ms": 3.0,
                "request_url": first,
                "status": 200,
                "response_body": {"data": []},
            }
        ),
    ]
    corr = correlate(reqs)
    assert corr.requests[1].request.url == "{{next_page}}"
    assert [(e.source, e.path) for e in corr.requests[0].extract] == [("header", "next-page")]


def test_a_value_a_header_carries_beats_a_list_items_position() -> None:
    """A sync sends back the list's ETag, unquoted (`_since=1700`); the first item's `last_modified`
    holds the same value, but only while the list has items (a test's fresh account has none): the
    header is the source, its quotes taken off by the extraction."""
    reqs = [
        NetworkRequest.model_validate(
            {
                "kind": "request",
                "session_id": "s",
                "seq": 0,
                "ts": 1.0,
                "method": "GET",
                "duration_ms": 3.0,
                "request_url": "http://api.test/v1/records",
                "status": 200,
                "response_body": {"data": [{"id": "a1b2c3d4", "last_modified": 1700000000001}]},
                "response_headers": {"ETag": '"1700000000001"'},
            }
        ),
        NetworkRequest.model_validate(
            {
                "kind": "request",
                "session_id": "s",
                "seq": 1,
                "ts": 2.0,
                "method": "GET",
                "duration_ms": 3.0,
                "request_url": "http://api.test/v1/records?_since=1700000000001",
                "status": 200,
                "response_body": {"data": []},
            }
        ),
    ]
    corr = correlate(reqs)
    assert corr.requests[1].request.url == "{{origin}}/v1/records?_since={{etag}}"
    [ex] = corr.requests[0].extract
    assert ex.source == "header"
    from trodden.assertions import Observation
    from trodden.assertions.templates import extract

    for etag in ('"1700000000001"', 'W/"1700000000001"'):
        obs = Observation(
            method="GET",
            url="http://t/v1/records",
            endpoint="GET /v1/records",
            status=200,
            headers={"etag": etag},
            body={"data": []},
            duration_ms=1.0,
        )
        assert extract(ex, obs, {}) == "1700000000001"


async def test_a_list_a_returning_user_read_by_position_is_set_up() -> None:
    """A returning user opens the first of the notes made on an earlier visit (`/data/0/id` of the
    list). A fresh account has no notes: the generator adds the creation other sessions show
    (`POST /v1/notes`) before the list, so the test replays instead of verifying nothing."""
    rng = random.Random(5)
    async with serve(make_app()) as recorded, aiohttp.ClientSession() as http:
        sessions = [await record_user(recorded, f"s{i}", rng) for i in range(3)]
        basic = "Basic " + base64.b64encode(b"old0:pw-old-0-secret").decode()
        await http.post(recorded + "/v1/accounts", json={"data": {"id": "old0", "password": "pw-old-0-secret"}})
        for title in ("earlier", "visit"):
            await http.post(recorded + "/v1/notes", json={"data": {"title": title}}, headers={"Authorization": basic})
        r = Recorder(recorded, "r0", http)
        r.headers["authorization"] = basic
        listing = await r.call("GET", "/v1/notes")
        await r.call("GET", f"/v1/notes/{listing['data'][1]['id']}")
        sessions.append(sanitised(r.session()))
    miner = build_miner(sessions)
    signups = SignupLearner(miner.templater)
    for session in sessions:
        signups.add(api_requests(session))
    suite = build_suite(
        "notes",
        "notes",
        [SelectedInput(s, ["test"], s.session_id) for s in sessions],
        miner,
        options=GenerateOptions(browser=False),
        signup=signups.best(),
    )
    [returning] = [t for t in suite.tests if t.session_id == "r0"]
    assert returning.auth_profile == "signup"
    assert [s.id for s in returning.steps] == ["setup1", "setup2", "s1", "s2"]  # item 1 needs two notes
    setup = returning.steps[0]
    assert isinstance(setup, HttpStep) and setup.endpoint == "POST /v1/notes" and setup.request.method == "POST"
    async with serve(make_app()) as fresh, serve(make_app()) as baseline:
        report = await replay_suite(
            None, suite, fresh, ReplayOptions(allow_unsafe_on_origin=True, retries=0, baseline=baseline)
        )
    [result] = [r for r in report.results if r.test_id == returning.id]
    assert result.outcome in ("passed", "flaky"), (result.reason, [f.description for f in result.failures])


def test_a_name_in_a_list_of_plain_values_is_not_taken_from_its_position() -> None:
    """`"principals": ["account:bob", "system.Everyone", …]` is a set in a hash order: a later
    request sending "system.Everyone" chose that constant itself; only identifiers are carried from
    such a list."""
    reqs = [
        _request(
            0,
            "GET",
            "/v1/",
            200,
            resp={
                "user": {
                    "principals": ["account:bob", "system.Everyone"],
                    "groups": ["0f3c2b1a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"],
                }
            },
        ),
        _request(
            1,
            "PUT",
            "/v1/shared",
            200,
            body={"read": ["system.Everyone"], "group": "0f3c2b1a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"},
        ),
    ]
    corr = correlate(reqs)
    assert corr.requests[1].request.body == {"read": ["system.Everyone"], "group": "{{v_0}}"}
    assert [e.path for e in corr.requests[0].extract] == ["/user/groups/0"]
