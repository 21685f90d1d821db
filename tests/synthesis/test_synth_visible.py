"""The visible state after browser steps: which recorded elements and texts a generated test
expects, and which it leaves out because they vary (by user, run, or state the test does not
reproduce)."""

from __future__ import annotations

from typing import Any

from trodden.models.events import Session, Target
from trodden.models.suite import BrowserStep, Locator
from trodden.synthesis.generate import SelectedInput, build_browser_test, build_suite
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.visible import VisibleLearner, steady_text, visible_locator

ORIGIN = "http://shop.recorded.test"


def _session(sid: str, user: str, greeting: str, extra: list[dict[str, Any]] | None = None) -> Session:
    """Home page, a product, add to cart: rum.js's snapshots after each."""
    product_view = [
        {"test_id": "product-name", "role": "heading", "name": "Trail Runner", "text": "Trail Runner", "tag": "h1"},
        {"test_id": "product-price", "text": "€89.00", "tag": "p"},
        {"test_id": "stock-level", "text": "In stock", "tag": "p"},
        {"role": "heading", "name": "Related", "text": "Related", "tag": "h2"},
        {"id": "row-4f9a0c2d", "text": "Related item", "tag": "div"},  # an id-shaped id: no locator
    ]
    after_click = [
        {"test_id": "flash", "role": "status", "text": "Added to cart", "tag": "p"},
        {"test_id": "greeting", "text": greeting, "tag": "p"},
        {"test_id": "cart-count", "text": "1", "tag": "span"},
        {"test_id": "order-ref", "text": "Reference A7F3-K2", "tag": "p"},
        *(extra or []),
    ]
    events = [
        {"kind": "page_view", "url": f"{ORIGIN}/products/7", "visible": product_view},
        {
            "kind": "click",
            "url": f"{ORIGIN}/products/7",
            "visible": after_click,
            "target": {"test_id": "add-to-cart", "role": "button", "name": "Add to cart", "tag": "button"},
        },
    ]
    return Session.model_validate(
        {
            "source": "shop",
            "session_id": sid,
            "user_id": user,
            "events": [{"session_id": sid, "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


def _steps(session: Session, learner: VisibleLearner | None) -> list[BrowserStep]:
    test = build_browser_test(SelectedInput(session), "shop", RouteTemplater(), visible=learner)
    assert test is not None
    return [s for s in test.steps if isinstance(s, BrowserStep)]


def test_stable_elements_and_texts_become_the_expectation_volatile_texts_do_not() -> None:
    banner = {"test_id": "promo-banner", "text": "Spring sale", "tag": "div"}  # one session in three
    sessions = [
        _session("s1", "u1", "Welcome, Jane", extra=[banner]),
        _session("s2", "u2", "Welcome, Omar"),
        _session("s3", "u3", "Welcome, Lena"),
    ]
    learner = VisibleLearner()
    for s in sessions:
        learner.add(s)
    goto, click = _steps(sessions[0], learner)

    assert (goto.action, goto.expect.url) == ("goto", "/products/{id}")
    assert goto.expect.visible == []  # a page load: see below

    assert click.action == "click"
    assert [loc.value for loc in click.expect.visible] == ["flash", "greeting", "cart-count", "order-ref"]
    # greetings differ by user, the count and the reference hold digits; the banner is gone
    # because most sessions doing this did not see it
    assert click.expect.visible_text == ["Added to cart"]


def test_a_text_one_user_saw_is_not_vouched_for() -> None:
    """The same user twice is not two witnesses: their name in "Welcome, Jane" would repeat."""
    sessions = [_session("s1", "u1", "Welcome, Jane"), _session("s2", "u1", "Welcome, Jane")]
    learner = VisibleLearner()
    for s in sessions:
        learner.add(s)
    _goto, click = _steps(sessions[0], learner)
    assert "Welcome, Jane" not in click.expect.visible_text
    assert "Added to cart" not in click.expect.visible_text  # one user: no text at all
    assert Locator(strategy="test_id", value="greeting") in click.expect.visible


def test_a_text_that_differs_between_sessions_is_dropped_and_old_events_give_nothing() -> None:
    varied = [_session(f"s{i}", f"u{i}", "Welcome") for i in range(3)]
    other = varied[2].events[1]
    assert other.kind == "click" and other.visible is not None
    other.visible[0] = Target(test_id="flash", role="status", text="Sold out", tag="p")
    learner = VisibleLearner()
    for s in varied:
        learner.add(s)
    _goto, click = _steps(varied[0], learner)
    assert "Added to cart" not in click.expect.visible_text  # the flash said something else once
    assert Locator(strategy="test_id", value="flash") in click.expect.visible

    for ev in varied[0].events:  # recorded by an older tag: no snapshot, no expectation
        ev.visible = None  # type: ignore[union-attr]
    goto, click = _steps(varied[0], None)
    assert goto.expect.visible == click.expect.visible == [] and click.expect.visible_text == []


def test_a_suite_without_a_learner_uses_its_own_sessions() -> None:
    suite = build_suite("v", "shop", [SelectedInput(_session("s1", "u1", "Hi"))], None)
    (test,) = suite.tests
    assert Locator(strategy="test_id", value="flash") in test.steps[1].expect.visible  # type: ignore[union-attr]


def test_volatility_and_locator_rules() -> None:
    assert steady_text("  Saved to   your wishlist ") == "Saved to your wishlist"
    for volatile in (
        "3 items",
        "Total 12.50",
        "2024-05-01",
        "jane.doe@example.com",
        "£5",
        "x" * 81,
        "Token qXz81bLLw0e2aPq9dKzRr",
        "Session eyJhbGciOiJIUzI1NiJ9abcdefghij",
    ):
        assert steady_text(volatile) is None, volatile
    assert visible_locator(Target(test_id="t", id="i", role="alert", name="n")) == Locator(
        strategy="test_id", value="t"
    )
    assert visible_locator(Target(id="order-8123", role="alert", name="Order placed")) == Locator(
        strategy="role", value="alert", name="Order placed"
    )
    assert visible_locator(Target(id="paid", role="heading", name="Paid")) == Locator(strategy="id", value="paid")
    assert visible_locator(Target(role="heading", name="Order 8123")) is None
    assert visible_locator(Target(test_id="product-link-SOCK-001", role="link", name="Socks")) is None


def test_a_page_load_gives_no_expectation() -> None:
    """A page also shows state made before the session (a cart, a wishlist), which a test in a
    fresh browser does not have: the demo's v1 replay failed on cart lines every load showed."""
    sessions = [_session(f"s{i}", f"u{i}", "Hi") for i in range(4)]
    learner = VisibleLearner()
    for s in sessions:
        learner.add(s)
    goto, click = _steps(sessions[0], learner)
    assert goto.expect.visible == [] and goto.expect.visible_text == []
    assert click.expect.visible != []


def _out_of_stock(sid: str, user: str, *, referrers: bool = True, then: str = "navigate") -> Session:
    """As rum.js records the demo's out-of-stock journey: a sold-out shirt, Add to cart (409: the
    page is left before it settled, no snapshot), then an address typed (no referrer) for socks,
    Add to cart there ("Added to cart"), and the cart link (a referrer: the socks page)."""
    shirt, socks, cart = (f"{ORIGIN}/products/SHIRT-004", f"{ORIGIN}/products/SOCK-001", f"{ORIGIN}/cart")
    add = {"test_id": "add-to-cart", "role": "button", "name": "Add to cart", "tag": "button"}
    load = {"type": then, "status": 200, "duration_ms": 40}
    events: list[dict[str, Any]] = [
        {"kind": "page_view", "url": shirt, "load": {"status": 200, "duration_ms": 40}, "visible": []},
        {"kind": "click", "url": shirt, "target": add},
        {
            "kind": "request",
            "url": shirt,
            "method": "POST",
            "request_url": f"{ORIGIN}/api/cart/items",
            "status": 409,
            "duration_ms": 5,
        },
        {
            "kind": "page_view",
            "url": socks if then == "navigate" else shirt,
            "load": load,
            "visible": [],
            "referrer": f"{ORIGIN}/" if then != "navigate" else None,
        },
        {
            "kind": "click",
            "url": socks,
            "target": add,
            "visible": [{"test_id": "flash", "role": "status", "text": "Added to cart", "tag": "p"}],
        },
        {"kind": "click", "url": socks, "target": {"test_id": "nav-cart", "role": "link", "name": "Cart", "tag": "a"}},
        {
            "kind": "page_view",
            "url": cart,
            "load": {"status": 200, "duration_ms": 40},
            "visible": [],
            "referrer": socks if referrers else None,
        },
    ]
    return Session.model_validate(
        {
            "source": "shop",
            "session_id": sid,
            "user_id": user,
            "events": [{"session_id": sid, "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


def _shape(steps: list[BrowserStep]) -> list[tuple[str, str | None, str | None]]:
    return [(s.action, s.url or (s.locators[0].value if s.locators else None), s.expect.url) for s in steps]


def test_a_page_opened_after_an_action_is_gone_to_not_where_the_action_led() -> None:
    """The v1 false alarm of the demo: the address typed after a click on a sold-out product was
    taken as where that click led, so the test clicked Add to cart twice on the sold-out product
    and expected the "Added to cart" the recording showed on the next product."""
    sessions = [_out_of_stock("s1", "u1"), _out_of_stock("s2", "u2")]
    learner = VisibleLearner()
    for s in sessions:
        learner.add(s)
    steps = _steps(sessions[0], learner)
    assert _shape(steps) == [
        ("goto", "{{origin}}/products/SHIRT-004", "/products/{slug}"),
        ("click", "add-to-cart", None),  # the 409 left the shirt's page where it was
        ("goto", "{{origin}}/products/SOCK-001", "/products/{slug}"),
        ("click", "add-to-cart", None),
        ("click", "nav-cart", "/cart"),  # a link: the cart page names the socks page as its referrer
    ]
    assert [s.expect.visible_text for s in steps] == [[], [], [], ["Added to cart"], []]


def test_a_reload_or_going_back_after_an_action_is_not_where_it_led() -> None:
    for then in ("reload", "back_forward"):
        steps = _steps(_out_of_stock("s1", "u1", then=then), None)
        assert _shape(steps)[1:3] == [
            ("click", "add-to-cart", None),
            ("goto", "{{origin}}/products/SHIRT-004", "/products/{slug}"),
        ], then


def test_without_referrers_in_the_source_a_page_after_an_action_is_where_it_led() -> None:
    """An application that sends no referrer (or a recorder that keeps none) says nothing either
    way: the page that followed an action is the action's, as for every page before."""
    session = _out_of_stock("s1", "u1", referrers=False)
    steps = _steps(session, None)
    assert _shape(steps)[1:3] == [("click", "add-to-cart", "/products/{slug}"), ("click", "add-to-cart", None)]
    learner = VisibleLearner()
    learner.add(session)
    learner.add(_out_of_stock("s2", "u2"))  # another session of the source has one: typed, after all
    assert _shape(_steps(session, learner))[2] == ("goto", "{{origin}}/products/SOCK-001", "/products/{slug}")
