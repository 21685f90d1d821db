"""Selection on a planted corpus: each strategy picks what it should, with its reasons; near-duplicates
collapse; the greedy cover prefers what adds most; the budget holds."""

from __future__ import annotations

import itertools

import pydantic
import pytest

from trodden.models.suite import SuiteCoverage
from trodden.operator.specs import Strategy as SpecStrategy
from trodden.synthesis.journeys import Journeys, build_journeys
from trodden.synthesis.selection import SelectOptions, _session_units, select_journeys
from trodden.synthesis.steps import RawStep
from trodden.synthesis.strategies import STRATEGIES, SelectionError, parse_strategies


def http(method: str, path: str, status: int = 200, ms: float = 20.0) -> RawStep:
    return ("http", method, path, status, ms)


def page(path: str) -> RawStep:
    return ("page", "view", path, 0, 0.0)


def core(i: int, *, product_ms: float = 20.0, checkout: int = 201) -> list[RawStep]:
    """The core checkout flow (8 steps)."""
    return [
        page("/"),
        http("GET", "/api/home"),
        page(f"/products/{i}"),
        http("GET", f"/api/products/{i}", ms=product_ms),
        ("ui", "click", "test_id=add", 0, 0.0),
        http("POST", "/api/cart", 201),
        page("/checkout"),
        http("POST", "/api/checkout", checkout),
    ]


def browse(i: int) -> list[RawStep]:
    return [page("/"), http("GET", "/api/home"), page("/search"), http("GET", "/api/search")]


def planted() -> tuple[Journeys, dict[str, str]]:
    sessions: list[tuple[str, list[RawStep]]] = []
    for i in range(60):
        sessions.append((f"core{i}", core(i + 100, product_ms=20.0 + i % 7)))
    for i in range(30):
        sessions.append((f"browse{i}", browse(i)))
    for i in range(10):  # near-duplicates of core: one extra step at the end
        sessions.append((f"coreplus{i}", [*core(i + 300), page("/thanks")]))
    sessions.append(("bot", [http("GET", "/wp-admin/setup.php"), http("GET", "/.env", 404)]))  # a one-off
    for i in range(3):  # rare but real: gift cards
        sessions.append((f"gift{i}", [page("/"), http("GET", "/api/giftcards"), http("POST", "/api/giftcards/redeem")]))
    sessions.append(("event1", [*browse(0), ("event", "custom", "add_to_cart_failed", 0, 0.0)]))
    sessions.append(("event2", [*browse(1), ("event", "custom", "add_to_cart_failed", 0, 0.0)]))
    sessions.append(("err500", core(7, checkout=500)))
    sessions.append(("errjs", [*browse(2), ("error", "uncaught", "", 0, 0.0)]))
    sessions.append(("errfail", [page("/"), http("GET", "/api/home", 0)]))
    sessions.append(("err409", [*browse(3), http("POST", "/api/cart", 409)]))
    sessions.append(("slow", core(9, product_ms=2000.0)))
    j = build_journeys(sessions)
    return j, {}


@pytest.fixture(scope="module")
def corpus() -> Journeys:
    return planted()[0]


def pick(j: Journeys, strategy: str, **kw: object) -> dict[str, list[str]]:
    opts = SelectOptions(strategies=parse_strategies([strategy]), **kw)  # type: ignore[arg-type]
    return {s.session_id: s.reasons for s in select_journeys(j, opts).sessions}


def test_frequent_picks_the_most_common_journeys_with_their_share(corpus: Journeys) -> None:
    got = pick(corpus, "frequent:2")
    assert len(got) == 2
    first, second = list(got.items())
    assert first[0].startswith("core")
    # near-duplicates (core + one extra step) count in the core flow's cluster: 60 + 10 (+ the slow one)
    assert first[1] == ["frequent: journey #1, 71 of 111 sessions (64.0%)"]
    assert second[0].startswith("browse")


def test_rare_is_below_a_share_and_takes_one_offs_only_from_real_users(corpus: Journeys) -> None:
    got = pick(corpus, "rare:20")
    assert got["event1"] == ["rare: 2 of 111 sessions (1.8%, under 5%)"] or "event2" in got
    gift = [r for k, v in got.items() if k.startswith("gift") for r in v]
    assert gift == ["rare: 3 of 111 sessions (2.7%, under 5%)"]
    assert got["err409"] == [
        "rare: a one-off journey, 1 of 111 sessions (0.9%, under 5%); looks like a real user's session"
    ]
    assert "bot" not in got and "errfail" not in got  # a scanner, and a glitch (nothing answered)
    assert not any(k.startswith(("core", "browse")) for k in got)  # 71 and 30 of 111 are not rare
    assert "bot" in pick(corpus, "rare:20", min_support=1)  # nothing is a one-off: no session is judged
    under_2 = set(pick(corpus, "rare:20", rare_share=0.02))  # the gift cards (2.7%) are not rare under 2%
    assert under_2 - {"event1", "event2"} == {"err409", "err500", "errjs"} and len(under_2) == 4


def test_event_strategy_picks_one_session_per_near_identical_flow(corpus: Journeys) -> None:
    got = pick(corpus, "event:add_to_cart_failed")
    assert list(got) in (["event1"], ["event2"])
    assert next(iter(got.values())) == ["event add_to_cart_failed"]
    assert pick(corpus, "event:no_such_event") == {}


def test_errors_finds_5xx_js_errors_failed_requests_and_unexpected_4xx(corpus: Journeys) -> None:
    got = pick(corpus, "errors", similarity=1.0)
    assert got["err500"] == ["errors: POST /api/checkout → 500"]
    assert got["errjs"] == ["errors: JS uncaught error"]
    assert got["errfail"] == ["errors: GET /api/home failed without a response"]
    assert got["err409"][0].startswith("errors: POST /api/cart → 409 (unexpected: ")
    assert not any(s.startswith(("core", "browse")) for s in got)


def test_slow_picks_a_step_slower_than_the_routes_percentile(corpus: Journeys) -> None:
    got = pick(corpus, "slow:p99")
    assert "slow" in got
    assert got["slow"][0].startswith("slow: GET /api/products/{id} 2,000 ms > p99 ")


def test_novel_picks_what_the_suite_does_not_cover(corpus: Journeys) -> None:
    covered_steps = {corpus.vocab[i].text for i in corpus.journey_steps[0]}
    texts = list(covered_steps)
    cov = SuiteCoverage(steps=sorted(covered_steps), transitions=list(itertools.pairwise(texts)))
    opts = SelectOptions(strategies=parse_strategies(["novel"]), coverage=cov, max_sessions=100)
    got = {s.session_id: s.reasons for s in select_journeys(corpus, opts).sessions}
    assert any(r.startswith("novel: covers GET /api/giftcards") for rs in got.values() for r in rs)
    # without a suite there is nothing to be novel against
    assert pick(corpus, "novel") == {}


def test_near_duplicates_collapse_and_exact_only_keeps_them_apart(corpus: Journeys) -> None:
    dedup = select_journeys(corpus, SelectOptions(similarity=0.85))
    exact = select_journeys(corpus, SelectOptions(similarity=1.0))
    assert dedup.stats.clusters < exact.stats.clusters == corpus.n_journeys
    two = pick(corpus, "frequent:2", similarity=1.0)
    assert not any(s.startswith("coreplus") for s in two)  # 10 sessions: not in the top 2 alone


def test_greedy_cover_prefers_the_session_adding_most_and_respects_the_budget() -> None:
    sessions = [
        ("small", [http("GET", "/a"), http("GET", "/b")]),
        ("big", [http("GET", "/a"), http("GET", "/c"), http("GET", "/d"), http("GET", "/e")]),
        ("overlap", [http("GET", "/a"), http("GET", "/c")]),
        *((f"filler{i}", [http("GET", "/z")]) for i in range(20)),
    ]
    j = build_journeys(sessions)
    opts = SelectOptions(strategies=parse_strategies(["rare:3"]), min_support=1, max_sessions=2, similarity=1.0)
    sel = select_journeys(j, opts)
    assert [s.session_id for s in sel.sessions] == ["big", "small"]
    assert sel.sessions[0].gain > sel.sessions[1].gain > 0


def test_budget_and_stats(corpus: Journeys) -> None:
    sel = select_journeys(corpus, SelectOptions(max_sessions=5))
    assert len(sel.sessions) == 5
    assert sel.stats.sessions == 111 and sel.stats.selected == 5
    assert sel.stats.coverage is not None and 0 < sel.stats.coverage <= 1
    every_unit = set().union(*(_session_units(corpus, s) for s in range(corpus.n_sessions)))
    assert sel.stats.units_total == len(every_unit)
    assert all(s.reasons and s.signature and s.steps for s in sel.sessions)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("often:3", "unknown strategy 'often'"),
        ("frequent:x", "needs a positive count"),
        ("event", "needs a name"),
        ("slow:p200", "below 100"),
        ("slow:p100", "below 100"),
        ("slow:p10", "at least 50"),
        ("errors:5", "takes no argument"),
    ],
)
def test_bad_strategies_are_refused_with_a_reason(spec: str, message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        parse_strategies([spec])


def test_the_cli_and_the_selector_spec_take_the_same_slow_percentiles() -> None:
    """`slow:pNN` on the CLI and `{type: slow, percentile: NN}` in a SessionSelector: the API server
    never admits a spec whose Job the CLI then refuses, nor the other way round."""
    for percentile in range(0, 102):
        try:
            parse_strategies([f"slow:p{percentile}"])
            cli = True
        except SelectionError:
            cli = False
        try:
            SpecStrategy.model_validate({"type": "slow", "percentile": percentile})
            spec = True
        except pydantic.ValidationError:
            spec = False
        assert cli == spec, percentile


def test_comma_lists_and_repeats_combine() -> None:
    assert [str(s) for s in parse_strategies(["frequent:3,rare:2", "errors", "slow"])] == [
        "frequent:3",
        "rare:2",
        "errors",
        "slow:p95",
    ]


def test_the_registry_reads_back_what_it_writes() -> None:
    """Every strategy's CLI form parses back to the same strategy (the operator builds its Job's
    command line from the same classes)."""
    for name, cls in STRATEGIES.items():
        example = f"{name}:{cls.argument.example}" if cls.argument else name
        (strategy,) = parse_strategies([example])
        assert isinstance(strategy, cls) and parse_strategies([str(strategy)]) == [strategy]
