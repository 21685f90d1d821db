"""Selection says what it means: `rare` is a journey below a stated share of the sessions, a
one-off journey is taken only from a session that looks like a real user's (not a bot, not a
glitch), and no reason contradicts the numbers next to it."""

from __future__ import annotations

import hashlib
import re

import pytest

from trodden.synthesis.humanlike import HUMAN, LONE_STEP, NOTHING_ANSWERED, POLLING, PROBING, signals
from trodden.synthesis.journeys import build_journeys
from trodden.synthesis.selection import SelectOptions, select_journeys
from trodden.synthesis.steps import RawStep
from trodden.synthesis.strategies import SelectionError, parse_strategies


def get(path: str, status: int = 200) -> RawStep:
    return ("http", "GET", path, status, 20.0)


def call(method: str, path: str, status: int) -> RawStep:
    return ("http", method, path, status, 30.0)


MAIN = [get("/api/items"), call("POST", "/api/items", 201), get("/api/items/12")]
JOURNEYS: dict[str, tuple[int, list[RawStep]]] = {
    "main": (57, MAIN),
    "delete": (10, [*MAIN, call("DELETE", "/api/items/12", 204)]),
    "search": (8, [get("/api/search?q=milk"), get("/api/items/7")]),
    "conflict": (4, [get("/api/items"), call("PATCH", "/api/items/3", 409), get("/api/items/3")]),
    "export": (1, [get("/api/items"), get("/api/export?format=csv"), call("POST", "/api/export", 202)]),
    "poller": (1, [get("/healthz")] * 12),
    "glitch": (1, [get("/api/items", 0)]),
    "offline": (1, [get("/api/items", 0), call("POST", "/api/items", 0)]),
}  # 83 sessions, as in the issue: the main journey is 57 of them


def corpus() -> list[tuple[str, list[RawStep]]]:
    return [(f"{name}-{i}", steps) for name, (n, steps) in JOURNEYS.items() for i in range(n)]


def rare_picks(share: float = 0.05) -> dict[str, str]:
    j = build_journeys(corpus())
    sel = select_journeys(j, SelectOptions(strategies=parse_strategies(["rare:10"]), max_sessions=20, rare_share=share))
    return {s.session_id.rsplit("-", 1)[0]: r for s in sel.sessions for r in s.reasons if r.startswith("rare")}


def test_rare_means_below_the_stated_share_and_one_offs_only_from_real_users() -> None:
    picks = rare_picks()
    assert set(picks) == {"conflict", "export"}  # 57, 10 and 8 of 83 are not rare; bots and glitches are out
    assert picks["conflict"] == "rare: 4 of 83 sessions (4.8%, under 5%)"
    assert picks["export"] == (
        "rare: a one-off journey, 1 of 83 sessions (1.2%, under 5%); looks like a real user's session"
    )
    assert set(rare_picks(0.10)) == {"conflict", "export", "search"}  # 8 of 83 is 9.6%


def test_reasons_never_contradict_their_numbers() -> None:
    j = build_journeys(corpus())
    sel = select_journeys(j, SelectOptions(max_sessions=30))  # the default strategies
    for s in sel.sessions:
        for reason in s.reasons:
            check_reason(reason)


def check_reason(reason: str) -> None:
    """A rare reason's share is under its limit, or its count under the stated support; a frequent
    one's share is its count's, and a journey seen once is never frequent."""
    if reason.startswith("rare"):
        found = re.search(r"(\d+) of (\d+) sessions \(([\d.]+)%, under ([\d.]+)%\)", reason)
        if found:
            count, total, share, limit = found.groups()
            assert int(count) / int(total) < float(limit) / 100 and float(share) < float(limit), reason
        else:
            once = re.search(r"(\d+) of (\d+) sessions \(([\d.]+)%, seen fewer than (\d+) times\)", reason)
            assert once, reason
            assert int(once.group(1)) < int(once.group(4)) and "one-off" in reason, reason
    if reason.startswith("frequent"):
        count, total, share = re.search(r"(\d+) of (\d+) sessions \(([\d.]+)%\)", reason).groups()  # type: ignore[union-attr]
        assert abs(100 * int(count) / int(total) - float(share)) < 0.1 and int(count) >= 2, reason


def test_in_a_small_corpus_a_one_off_is_rare_not_frequent() -> None:
    """14 sessions, as Django admin's harness records: a journey seen once is 7.1%, above the 5%
    share, and used to be labelled "frequent: journey #4, 1 of 14 sessions (7.1%)". It is rare, a
    one-off, when its session looks like a real user's; a glitch is neither."""
    small = [
        *((f"main-{i}", MAIN) for i in range(10)),
        *((f"search-{i}", JOURNEYS["search"][1]) for i in range(2)),
        ("export-0", JOURNEYS["export"][1]),
        ("glitch-0", JOURNEYS["glitch"][1]),
    ]
    sel = select_journeys(build_journeys(small), SelectOptions(max_sessions=20))  # the default strategies
    picks = {s.session_id.rsplit("-", 1)[0]: s.reasons for s in sel.sessions}
    assert picks["main"] == ["frequent: journey #1, 10 of 14 sessions (71.4%)"]
    assert picks["search"] == ["frequent: journey #2, 2 of 14 sessions (14.3%)"]
    assert picks["export"] == [
        "rare: a one-off journey, 1 of 14 sessions (7.1%, seen fewer than 2 times); looks like a real user's session"
    ]
    assert "glitch" not in picks or not any(r.startswith(("frequent", "rare")) for r in picks["glitch"])
    for reasons in picks.values():
        for reason in reasons:
            check_reason(reason)


def test_the_bot_and_glitch_signals() -> None:
    j = build_journeys(corpus())
    by_name = dict(zip((sid.rsplit("-", 1)[0] for sid in j.session_ids), signals(j).tolist(), strict=True))
    assert by_name == {
        "main": HUMAN,
        "delete": HUMAN,
        "search": HUMAN,
        "conflict": HUMAN,
        "export": HUMAN,
        "poller": POLLING,
        "glitch": LONE_STEP,
        "offline": NOTHING_ANSWERED,
    }
    probe = build_journeys(
        [("scan", [get("/wp-admin", 404), get("/.env", 404), get("/admin.php", 404), get("/", 200)])]
    )
    assert signals(probe).tolist() == [PROBING]


def test_the_share_is_validated() -> None:
    with pytest.raises(SelectionError, match="--rare-share"):
        select_journeys(build_journeys(corpus()), SelectOptions(rare_share=1.5))


def test_no_frequent_journey_is_below_the_rare_share() -> None:
    """`frequent:10` on a corpus with 3 journeys above the share: it proposes those 3, not 7 one-offs
    ranked "frequent" next to "1 of 83 sessions (1.2%)"."""
    j = build_journeys(corpus())
    sel = select_journeys(j, SelectOptions(strategies=parse_strategies(["frequent:10"]), max_sessions=20))
    picks = {s.session_id.rsplit("-", 1)[0]: s.reasons for s in sel.sessions}
    assert set(picks) == {"main", "delete", "search"}  # 57, 10 and 8 of 83; conflict is 4 of 83 (4.8%)


def test_the_selection_does_not_depend_on_session_ids() -> None:
    """Stored session ids are pseudonyms keyed per source: the same traffic under another key must
    give the same suite (a CI run once lost a planted regression's only test to the id order)."""

    def selection(key: str) -> list[tuple[str, tuple[str, ...]]]:
        renamed = [(hashlib.sha256(f"{key}:{sid}".encode()).hexdigest()[:12], steps) for sid, steps in corpus()]
        # one-offs of equal size: the most unusual first, then the signature, never the id
        one_offs = [
            (f"one-off-{i}", [get("/api/items"), get(f"/api/report/{kind}"), get("/api/items/12")])
            for i, kind in enumerate(("a-b", "c-d", "e-f", "g-h", "i-j"))
        ]
        renamed += [(hashlib.sha256(f"{key}:{sid}".encode()).hexdigest()[:12], s) for sid, s in one_offs]
        j = build_journeys(renamed)
        sel = select_journeys(j, SelectOptions(strategies=parse_strategies(["frequent:10", "rare:3"]), max_sessions=8))
        return sorted((s.signature, tuple(s.reasons)) for s in sel.sessions)

    first = selection("key-1")
    assert len(first) == 6  # 3 frequent, 3 rare
    for key in ("key-2", "key-3", "another"):
        assert selection(key) == first
