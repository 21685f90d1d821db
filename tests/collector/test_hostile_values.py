"""Values hidden where the first rounds of issue 17 did not look: prefixed tokens in free text, cards
glued to other digit groups, look-alike characters, credentials inside bodies that carry headers,
percent-encoding twice, secrets in arrays and objects under secret names, header and cookie names.
Each test plants the value and checks it is gone and what replaced it keeps its use (the same
value gives the same pseudonym wherever it is, so replay still correlates)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from trodden.collector.pseudonym import luhn_valid
from trodden.collector.sanitize import Sanitizer

KEY = b"k" * 32
CARD = "4111111111111111"


@pytest.fixture
def sanitizer() -> Sanitizer:
    return Sanitizer(KEY)


@pytest.mark.parametrize(
    "token",
    [
        "tok_8f3a9b2c",
        "tok_8f3a9b2c7d1e",
        "sk_live_4eC39HqLyjWD",
        "rk_test_51H8abcDEFghiJ",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
        "my-api-key-x8Jd92kq",
        "tok_abcdefghijklmnopqrstuvwxyz",
    ],
)
def test_a_prefixed_token_in_free_text_is_pseudonymised(sanitizer: Sanitizer, token: str) -> None:
    for text in (f"Your API token is {token}.", f"copy {token} into the app", f"({token})", token):
        clean = sanitizer.text(text)
        assert token not in clean, text
        assert len(clean) == len(text)
    if "_" in token:  # the vendor prefix says what kind of token it was, and stays
        prefix = token[: token.rfind("_") + 1]
        assert sanitizer.text(token).startswith(prefix)
    assert sanitizer.text(f"a {token} b") == f"a {sanitizer.secret(token)} b"  # as in a secret position


@pytest.mark.parametrize(
    "value",
    [
        "tokyo_20240501",
        "api_key_name",
        "refresh_token_lifetime",
        "order_12345678",
        "token_v2",
        "tok_visa",
        "tok_insufficient_funds",
        "keyboard-2024-layout",
        "secret-santa-2024",
        "sk_test_abcdefghij",
    ],
)
def test_identifiers_and_names_near_token_words_are_kept(sanitizer: Sanitizer, value: str) -> None:
    assert sanitizer.text(value) == value


def test_a_jwt_inside_a_sentence_is_pseudonymised(sanitizer: Sanitizer) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lQGV4YW1wbGUuY29tIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    for text in (f"session {jwt} expired", f"token={jwt}, retry", f"({jwt})."):
        assert jwt.split(".")[1] not in sanitizer.text(text)


@pytest.mark.parametrize(
    "template",
    [
        "cards-{c}",
        "order-2024-{c}",
        "{c}-01",
        "{c}-2",
        "2024-{c}",
        "+{c}",
        "slug-cards-{c}-blue",
        "ref:{c}.",
        "/cards-{c}/x",
        "id 2024 {c}",
        "{c} 7",
    ],
)
def test_a_card_glued_to_other_digit_groups_is_masked(sanitizer: Sanitizer, template: str) -> None:
    text = template.format(c=CARD)
    clean = sanitizer.text(text)
    assert CARD not in clean, text
    assert CARD not in sanitizer.segment(text)
    # the card's pseudonym is a card, in its place; what surrounds it is kept
    start = text.index(CARD)
    assert clean[:start] == text[:start] and clean[start + 16 :] == text[start + 16 :]
    assert luhn_valid(clean[start : start + 16]) and clean[start] == "4"


def test_digit_groups_that_hold_no_card_are_kept(sanitizer: Sanitizer) -> None:
    for text in ("2024-05-01-123456789012", "order 1234 5678 9012 3456 7", "ref-4111111111111112-01"):
        assert sanitizer.text(text) == text


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("４１１１１１１１１１１１１１１１", CARD),  # fullwidth digits
        ("card ４１１１ １１１１ １１１１ １１１１ ok", CARD),
        ("٤١١١١١١١١١١١١١١١", CARD),  # Arabic-Indic digits
        ("4111\u00a01111\u00a01111\u00a01111", CARD),  # no-break spaces, as Intl formats it
        ("4111\u20111111\u20111111\u20111111", CARD),  # non-breaking hyphens
        ("4111\u200b1111\u200b1111\u200b1111", CARD),  # zero-width spaces
        ("mail jane.doe＠example.com now", "jane.doe"),  # fullwidth @
        ("mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ now", "ｊａｎｅ"),
        ("ja\u200bne@example.com", "example.com"),
    ],
)
def test_look_alike_characters_do_not_hide_a_value(sanitizer: Sanitizer, text: str, raw: str) -> None:
    clean = sanitizer.text(text)
    assert clean != text
    assert raw not in clean and raw not in clean.translate({0xFF10 + d: 0x30 + d for d in range(10)})


def test_look_alike_text_without_a_value_keeps_its_characters(sanitizer: Sanitizer) -> None:
    for text in ("Ｔｏｋｙｏ　２０２４", "prix\u00a012,50\u00a0€", "Größe – 42", "Ünïcode 555 123 4567x"):
        kept = sanitizer.text(text)
        assert kept == text or kept.isascii() is text.isascii(), text


def test_percent_encoded_twice_is_decoded(sanitizer: Sanitizer) -> None:
    email = "jane.doe@example.com"
    once, twice = quote(email, safe=""), quote(quote(email, safe=""), safe="")
    for text in (once, twice, f"next={quote('/x?email=' + email, safe='')}"):
        clean = sanitizer.text(text)
        assert email not in clean and once not in clean and twice not in clean, text
    # the same email gives the same pseudonym at every level of encoding
    pseudonym = sanitizer.text(email)
    assert sanitizer.text(once) == quote(pseudonym, safe=".")
    assert sanitizer.text(twice) == quote(quote(pseudonym, safe="."), safe=".")
    url = f"https://a.example/u/{twice}/x?next=%252Fx%253Femail%253D{twice}"
    assert "jane" not in sanitizer.url(url)
    assert sanitizer.text("100% sure, 20%off") == "100% sure, 20%off"


def test_basic_credentials_inside_a_batch_body_match_the_header(sanitizer: Sanitizer) -> None:
    """kinto-http's /v1/batch carries the Authorization of every sub-request in its JSON body."""
    basic = base64.b64encode(b"alice@example.com:S3cretPw!x").decode()
    header = sanitizer.headers({"Authorization": f"Basic {basic}"})["Authorization"]
    tokens = sanitizer.begin("s1", None)
    try:
        body = sanitizer.json(
            {
                "defaults": {"headers": {"Authorization": f"Basic {basic}", "Cookie": "session=abcdefgh123"}},
                "requests": [
                    {"method": "PUT", "path": "/buckets/b", "headers": {"authorization": "Bearer abcdefgh12345678"}},
                    {"method": "GET", "path": "/x", "headers": {"Proxy-Authorization": "Basic " + basic}},
                ],
            },
            (),
        )
    finally:
        taint = sanitizer.end(tokens)
    assert body["defaults"]["headers"]["Authorization"] == header
    assert body["requests"][1]["headers"]["Proxy-Authorization"] == header
    assert "abcdefgh123" not in str(body) and basic not in str(body)
    assert (
        body["requests"][0]["headers"]["authorization"]
        == (sanitizer.headers({"authorization": "Bearer abcdefgh12345678"})["authorization"])
    )
    # followed through the session like the header's secrets
    assert taint is not None and "abcdefgh12345678" in taint.values and "abcdefgh123" in taint.values


def test_header_names_cookie_names_and_cookie_attributes_are_sanitised(sanitizer: Sanitizer) -> None:
    email = "jane.doe@example.com"
    clean = sanitizer.headers(
        {
            f"X-User-{email}": "1",
            "Cookie": f"{email}=1; theme=dark",
            "Set-Cookie": f"sid=abc123456; Path=/reset/tok_8f3a9b2c7d1e; Domain=shop.example; Comment={email}",
        }
    )
    assert email not in str(clean) and "tok_8f3a9b2c7d1e" not in str(clean)
    assert "Domain=shop.example" in clean["Set-Cookie"] and "Path=/reset/tok_" in clean["Set-Cookie"]
    assert "theme=" in clean["Cookie"]


def test_arrays_and_objects_under_secret_names_are_secrets(sanitizer: Sanitizer) -> None:
    body = {
        "password": ["hunter2xx", "hunter3yy"],
        "passwords": {"new": "hunter4zz", "confirm": "hunter4zz", "length": 9},
        "tokens": {"access": "abcdefgh", "refresh": "zyxwvuts", "expires_in": 3600},
        "emails": ["jane.doe@example.com", "bob@example.org"],
        "phones": ["+33 1 23 45 67 89"],
        "session": {"cart": ["SHIRT-004"], "step": "pay"},  # state, not secrets: kept
    }
    clean = sanitizer.json(body, ())
    for raw in ("hunter2xx", "hunter3yy", "hunter4zz", "abcdefgh", "zyxwvuts", "jane.doe", "bob@", "23 45 67"):
        assert raw not in str(clean), raw
    assert clean["passwords"]["new"] == clean["passwords"]["confirm"] == sanitizer.secret("hunter4zz")
    assert clean["passwords"]["length"] == 9 and clean["tokens"]["expires_in"] == 3600
    assert clean["session"] == body["session"]


def test_a_truncated_body_loses_its_cut_last_word(sanitizer: Sanitizer) -> None:
    event = {"kind": "request", "body_truncated": True, "request_body": '{"note": "write to jane.doe@exam'}
    assert "jane.doe" not in str(sanitizer.event(event))
    event = {"kind": "request", "body_truncated": True, "response_body": "cards: 4111 1111 1111 11"}
    assert "1111 11" not in str(sanitizer.event(event))
    whole = {"kind": "request", "response_body": "ok thanks"}
    assert sanitizer.event(whole) == whole


def test_an_email_inside_credentials_keeps_its_email_pseudonym(sanitizer: Sanitizer) -> None:
    clean = sanitizer.json({"credentials": {"username": "jane.doe@example.com", "email": "bob@example.org"}}, ())
    assert clean["credentials"]["username"] == sanitizer.text("jane.doe@example.com")
    assert clean["credentials"]["email"] == sanitizer.text("bob@example.org")


def test_free_string_fields_of_span_and_log_events_from_a_beacon_are_sanitised(sanitizer: Sanitizer) -> None:
    email = "jane.doe@example.com"
    log = sanitizer.event({"kind": "log", "seq": 0, "severity": email, "body": "x"})
    span = sanitizer.event({"kind": "span", "seq": 1, "span_kind": email, "trace_id": "ab" * 16})
    assert email not in str(log) and email not in str(span)
    assert span["trace_id"] == "ab" * 16


# -- misses noticed in the fourth round (issue 17) ------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "my password is {}",
        "My password is {}.",
        "the PIN was {} (do not share)",
        "Password is: {}",
        "pwd - {}",
        "pwd: {}",
        "PWD:{}",
        "your one-time code is {}",
        "api key is {}",
        "the passphrase will be {} from now on",
    ],
)
def test_a_secret_said_in_prose_is_pseudonymised(sanitizer: Sanitizer, template: str) -> None:
    secret = "hunter2x" if "PIN" not in template and "code" not in template else "482915"
    text = template.format(secret)
    clean = sanitizer.text(text)
    assert secret not in clean, text
    assert clean == template.format(sanitizer.secret(secret)), text  # the same pseudonym as in a secret field


@pytest.mark.parametrize(
    "text",
    [
        "Password is required",
        "Your password is incorrect.",
        "The password is too short",
        "password is at least 8 characters",
        "Token was revoked",
        "Your PIN is not valid",
        "API key is missing",
    ],
)
def test_messages_about_a_secret_are_kept(sanitizer: Sanitizer, text: str) -> None:
    assert sanitizer.text(text) == text


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("jane.doe&#64;example.com", "&#64;"),
        ("write to jane.doe&commat;example.com today", "&commat;"),
        ("jane.doe&#x40;example.com", "&#x40;"),
        ("jane.doe&amp;#64;example.com", "&amp;#64;"),  # escaped twice (HTML inside HTML)
        ("Tom &amp; Jerry: jane.doe&#064;example.com", "&#064;"),
    ],
)
def test_an_email_behind_html_character_references_is_pseudonymised(
    sanitizer: Sanitizer, text: str, reference: str
) -> None:
    clean = sanitizer.text(text)
    assert "jane.doe" not in clean and "jane.doe" not in clean.casefold(), text
    pseudonym = sanitizer.text("jane.doe@example.com")
    # the same pseudonym as the plain email, written with the text's own reference, the rest as it was
    assert pseudonym.replace("@", reference) in clean, clean
    assert clean.replace(pseudonym.replace("@", reference), "jane.doe" + reference + "example.com") == text


def test_html_character_references_without_a_value_are_kept(sanitizer: Sanitizer) -> None:
    for text in ("Tom &amp; Jerry", "a &lt; b &#8212; c", "?a=1&copy=2", "&#64;home"):
        assert sanitizer.text(text) == text


@pytest.mark.parametrize(
    ("token", "plain"),
    [
        ("t\u043ek_8f3a9b2c", "tok_8f3a9b2c"),  # Cyrillic small o (U+043E)
        ("sk_l\u0456ve_4eC39HqLyjWD", "sk_live_4eC39HqLyjWD"),  # Cyrillic small i (U+0456)
        ("t\u03bfken_abcdef12345", "token_abcdef12345"),  # Greek small omicron
        ("\u0392earer abcdef123456", "Bearer abcdef123456"),  # Greek capital beta
    ],
)
def test_cyrillic_and_greek_look_alikes_do_not_hide_a_token(sanitizer: Sanitizer, token: str, plain: str) -> None:
    for text in (token, f"copy {token} now"):
        clean = sanitizer.text(text)
        assert clean != text, text
        assert clean == text.replace(token, sanitizer.text(plain)), text  # as if written in Latin letters


def test_cyrillic_and_greek_text_without_a_value_is_kept(sanitizer: Sanitizer) -> None:
    for text in ("Привет, мир", "Καλημέρα κόσμε", "Заказ 12 оплачен", "τοκεν"):
        assert sanitizer.text(text) == text


@pytest.mark.parametrize("local", ["a" * 70, "x" * 64 + "tail.part", "first.last+" + "n" * 80])
def test_an_email_with_a_local_part_over_64_characters_is_pseudonymised_whole(sanitizer: Sanitizer, local: str) -> None:
    for text in (f"{local}@example.com", f"mail {local}@example.com now"):
        clean = sanitizer.text(text)
        assert local[:16] not in clean and local[-8:] not in clean, clean
        assert "@" in clean


def test_a_long_run_without_an_email_stays_linear(sanitizer: Sanitizer) -> None:
    import time

    text = "a." * 20_000 + " b@"
    started = time.process_time()
    assert sanitizer.text(text) == text
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize("name", ["Jane", "Mary-Jane", "O'Brien", "McDonald"])
def test_a_lone_name_typed_into_an_input_is_free_text(name: str) -> None:
    sanitizer = Sanitizer(KEY)  # k = 5: one user's name is masked, keeping its shape
    token = sanitizer.begin("s1", "u1")
    try:
        masked_input = sanitizer.input_value(name, {"target": {"id": "city"}})
        body = sanitizer.json({"first_name": name, "lastName": name.lower(), "plan": name}, (), 0, True)
        form = sanitizer.form(f"first_name={name}&plan=x", typed=True)
    finally:
        sanitizer.end(token)
    assert masked_input != name and len(masked_input) == len(name)
    assert body["first_name"] == masked_input  # the same mask in the request, so replay correlates
    assert body["lastName"] != name.lower()  # a name field: any case
    assert body["plan"] == name  # one word outside a name field of a body is not a name
    assert name not in form


def test_single_words_that_are_not_names_are_kept_in_inputs() -> None:
    sanitizer = Sanitizer(KEY)
    token = sanitizer.begin("s1", "u1")
    try:
        for value in ("sock", "SPRING", "SAVE10", "42", "x"):
            assert sanitizer.input_value(value, {"target": {"id": "q"}}) == value
    finally:
        sanitizer.end(token)


def test_a_lone_name_is_kept_once_k_users_typed_it() -> None:
    from trodden.models.sanitization import SanitizationConfig

    sanitizer = Sanitizer(KEY, SanitizationConfig(free_text_min_users=2))
    outputs = []
    for user in ("u1", "u2", "u3"):
        token = sanitizer.begin(f"s-{user}", user)
        try:
            outputs.append(sanitizer.input_value("Paris", {"target": {"id": "city"}}))
        finally:
            sanitizer.end(token)
    assert outputs[0] != "Paris" and outputs[1:] == ["Paris", "Paris"]


def test_text_typed_into_a_get_form_is_free_text_in_the_url_too() -> None:
    """A search box submitted by GET puts what was typed into the next page's URL: `?q=Jane+Doe` is
    masked like the input, with the same mask (replay correlates them), in page URLs, navigation
    events, Referer headers and OTLP `url.query`; a name field's lone word too; kept once k users sent it."""
    from trodden.models.sanitization import SanitizationConfig

    sanitizer = Sanitizer(KEY, SanitizationConfig(free_text_min_users=2))
    url = "https://shop.example/search?q=Jane+Doe&first_name=Ophelia&page=2&sort=Title"
    token = sanitizer.begin("s1", "u1")
    try:
        typed = sanitizer.input_value("Jane Doe", {"target": {"id": "q"}})
        event = sanitizer.event({"kind": "navigation", "to_url": url, "request_headers": {"Referer": url}})
        request = sanitizer.event({"kind": "request", "request_url": url})
        cached_again = sanitizer.url(url)
        otlp = sanitizer.query("q=Jane+Doe&page=2")
    finally:
        sanitizer.end(token)
    assert typed != "Jane Doe"
    for clean in (event["to_url"], event["request_headers"]["Referer"], cached_again, otlp):
        assert "Jane" not in clean and "Doe" not in clean, clean
        assert "page=2" in clean
    assert parse_qs(urlsplit(event["to_url"]).query)["q"] == [typed]  # the input's mask
    assert "Ophelia" not in event["to_url"] and "sort=Title" in event["to_url"]  # one word: only a name field's
    assert request["masked"] is True and "masked" not in event  # a request says so: replay sends the mask

    for user in ("u2", "u3"):  # k = 2: from the second user on, the same search is kept
        token = sanitizer.begin(f"s-{user}", user)
        try:
            kept = sanitizer.url("https://shop.example/search?q=Jane+Doe")
            kept_request = sanitizer.event({"kind": "request", "request_url": "https://shop.example/search?q=Jane+Doe"})
        finally:
            sanitizer.end(token)
    assert parse_qs(urlsplit(kept).query)["q"] == ["Jane Doe"]
    assert "masked" not in kept_request
