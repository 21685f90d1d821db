"""Route templates: id shapes become parameters, high-cardinality segments too, the rest stays literal."""

from __future__ import annotations

import uuid

from hypothesis import example, given, settings
from hypothesis import strategies as st

from trodden.synthesis.routes import RouteTemplater, segment_param, split_path


def test_id_shapes_become_parameters() -> None:
    t = RouteTemplater.learn(["/orders/8123", "/orders/77"])
    assert t.template("/orders/8123") == "/orders/{id}"
    assert t.template(f"/carts/{uuid.uuid4()}/items") == "/carts/{uuid}/items"
    assert t.template("/blobs/9f86d081884c7d65") == "/blobs/{hash}"
    assert t.template("/products/blue-shirt-123") == "/products/{slug}"
    assert t.template("/products/123-blue-shirt") == "/products/{slug}"
    assert t.template("/reset/aB3dE5fG7hJ9kL1mN3pQ5x") == "/reset/{token}"


def test_low_cardinality_segments_stay_literal() -> None:
    paths = [f"/category/{c}" for c in ("shoes", "hats", "bags")] * 20 + ["/api/v1/cart", "/api/v2/cart"]
    t = RouteTemplater.learn(paths)
    assert t.template("/category/shoes") == "/category/shoes"
    assert t.template("/api/v1/cart") == "/api/v1/cart"


def test_high_cardinality_segments_become_parameters_but_frequent_ones_stay() -> None:
    names = [f"user{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(200)]
    paths = {f"/users/{n}/profile": 1 for n in names} | {"/users/me/profile": 500}
    t = RouteTemplater.learn(paths)
    assert t.template("/users/userqa/profile") == "/users/{param}/profile"
    assert t.template("/users/someone-new/profile") == "/users/{param}/profile"  # unseen values too
    assert t.template("/users/me/profile") == "/users/me/profile"


def test_a_long_tail_is_a_parameter_even_in_a_small_corpus() -> None:
    """Kinto's signups: one `PUT /v1/accounts/<username>` each, 30 users. Left literal, every session
    was its own journey and selection could not tell the common flows from the one-offs."""
    names = [f"{first}{n}.{n % 7}" for n, first in enumerate(["eric", "ybrown", "jonesmark", "amanda", "kyle"] * 6)]
    paths = [f"/v1/accounts/{name}" for name in names] + ["/v1/accounts/me"] * 5 + ["/v1/buckets/default"] * 40
    t = RouteTemplater.learn(paths)
    assert {t.template(p) for p in paths[:30]} == {"/v1/accounts/{param}"}
    assert t.template("/v1/accounts/someone.else") == "/v1/accounts/{param}"
    assert t.template("/v1/accounts/me") == "/v1/accounts/me"  # seen more often than the tail: literal
    assert t.template("/v1/buckets/default") == "/v1/buckets/default"
    # a few pages each visited once: fewer than `min_values` of them, they stay literal
    few = [f"/docs/{page}" for page in ("install", "usage", "api", "faq", "changelog")]
    assert {RouteTemplater.learn(few).template(p) for p in few} == set(few)


def test_query_and_fragment_are_not_part_of_the_route() -> None:
    t = RouteTemplater.learn(["/search?q=1"])
    assert t.template("/search?q=shoes#top") == "/search"
    assert split_path("/") == []


segment = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-_."), min_size=1, max_size=24
)
path = st.lists(segment, min_size=0, max_size=6).map(lambda segs: "/" + "/".join(segs))


@settings(max_examples=150, deadline=None)
@given(st.lists(path, min_size=1, max_size=40))
def test_templating_is_idempotent_and_keeps_the_number_of_segments(paths: list[str]) -> None:
    t = RouteTemplater.learn(paths)
    for p in paths:
        once = t.template(p)
        assert t.template(once) == once
        assert len(split_path(once)) == len(split_path(p))


@settings(max_examples=150, deadline=None)
@given(st.lists(path, min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_learning_does_not_depend_on_the_order_of_paths(paths: list[str], rnd: object) -> None:
    shuffled = list(paths)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = RouteTemplater.learn(paths), RouteTemplater.learn(shuffled)
    assert [a.template(p) for p in paths] == [b.template(p) for p in paths]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=30), st.sampled_from(["orders", "users"])
)
def test_integer_ids_always_collapse_to_one_route(ids: list[int], resource: str) -> None:
    t = RouteTemplater.learn([f"/api/{resource}/{i}" for i in ids])
    assert {t.template(f"/api/{resource}/{i}/items") for i in ids} == {f"/api/{resource}/{{id}}/items"}
    assert segment_param(str(ids[0])) == "{id}"


odd_segment = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd", "No", "Pd"), whitelist_characters="-_.{}?#~=\n²"),
    min_size=0,
    max_size=24,
)
odd_path = st.lists(
    st.one_of(segment, odd_segment, st.sampled_from(["{id}", "8123", "9f86d081884c7d65", "user"])),
    min_size=0,
    max_size=6,
).map(lambda segs: "/" + "/".join(segs))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(path, odd_path), min_size=1, max_size=60, unique=True),
    st.lists(st.integers(min_value=1, max_value=1000), min_size=60, max_size=60),
)
@example(["/orders/12?x=1#top", "/blobs/9f86d081884c7d65#f", "//users//7/", "/²/x", "/", ""], [1] * 60)
@example(["/a\nb/12", "/orders/12?x=1"], [1] * 60)  # a line break: shaped one by one
def test_bulk_templates_are_what_template_gives(paths: list[str], weights: list[int]) -> None:
    """`learn_templates` shapes all paths at once (C-level string operations, one regex over the
    distinct segments); each result must be what `template` gives for that path alone, including
    queries, fragments, doubled or trailing slashes, line breaks and non-ASCII digits."""
    t, templates = RouteTemplater.learn_templates(paths, weights[: len(paths)])
    assert templates == [t.template(p) for p in paths]
