"""The collector validates events into dicts with validators derived from the event models: they
must accept, refuse and explain exactly as the models do."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError, model_validator

from trodden.collector.validation import EVENT_DICT, UnsupportedSchema, dict_validator
from trodden.models.events import EVENT_ADAPTER

GOOD = [
    {"kind": "click", "session_id": "s", "seq": 0, "ts": 1, "target": {"test_id": "buy", "css": "#b"}},
    {"kind": "input", "session_id": "s", "seq": 1, "ts": 2.5, "target": {"id": "q"}, "value": "3", "masked": True},
    {
        "kind": "request",
        "session_id": "s",
        "seq": 2,
        "ts": 3,
        "method": "POST",
        "request_url": "https://x.example/api",
        "status": "201",
        "duration_ms": 4,
        "request_headers": {"a": "b"},
        "response_body": {"items": [1, {"x": None}]},
        "trace_id": "0" * 32,
    },
    {"kind": "page_view", "session_id": "s", "seq": 3, "ts": 4, "visible": [{"text": "Hello", "role": "heading"}]},
    {"kind": "custom", "session_id": "s", "seq": 4, "ts": 5, "name": "n", "properties": {"k": [1, 2]}},
    {"kind": "vital", "session_id": "s", "seq": 5, "ts": 6, "name": "LCP", "value": 1.5},
]
BAD = [
    {"kind": "click", "session_id": "s", "seq": -1, "ts": 1, "target": {}},
    {"kind": "click", "session_id": "s b", "seq": 1, "ts": 1, "target": {}},
    {"kind": "click", "session_id": "s", "seq": 1, "ts": 1, "target": {"tag": 5}, "extra": 1},
    {"kind": "request", "session_id": "s", "seq": 1, "ts": 1, "method": "P O", "request_url": "u", "status": 1},
    {"kind": "teleport", "seq": 1},
    {"seq": 1},
    "not an object",
    {"kind": "vital", "session_id": "s", "seq": 1, "ts": -5, "name": "XYZ", "value": -1},
    {"kind": "page_view", "session_id": "s", "seq": 1, "ts": 1, "visible": [{"text": 3}] * 20},
]


def _errors(exc: ValidationError) -> list[tuple[Any, ...]]:
    return [(e["loc"], e["msg"], e["type"]) for e in exc.errors(include_url=False)]


def _both(value: Any) -> tuple[Any, Any]:
    try:
        as_dict: Any = EVENT_DICT.validate_python(value)
    except ValidationError as exc:
        as_dict = _errors(exc)
    try:
        as_model: Any = EVENT_ADAPTER.validate_python(value).model_dump(exclude_unset=True)
    except ValidationError as exc:
        as_model = _errors(exc)
    return as_dict, as_model


@pytest.mark.parametrize("event", GOOD + BAD)
def test_same_result_and_same_errors_as_the_models(event: Any) -> None:
    as_dict, as_model = _both(event)
    assert as_dict == as_model


def test_fields_not_sent_stay_absent() -> None:
    out = EVENT_DICT.validate_python(GOOD[0])
    assert "masked" not in out and "value" not in out
    assert out["ts"] == 1.0 and isinstance(out["ts"], float)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["click", "request", "custom", "vital", "page_view", "nope"])},
        optional={
            "session_id": st.text(max_size=4),
            "seq": st.one_of(st.integers(-2, 3), st.text(max_size=2)),
            "ts": st.one_of(st.floats(allow_nan=True), st.integers(-1, 10)),
            "target": st.dictionaries(
                st.sampled_from(["id", "css", "nope"]), st.one_of(st.text(max_size=3), st.none())
            ),
            "name": st.sampled_from(["LCP", "x", ""]),
            "value": st.one_of(st.floats(), st.text(max_size=3)),
            "status": st.one_of(st.integers(-1, 1000), st.text(max_size=3)),
            "method": st.sampled_from(["GET", "g t"]),
            "request_url": st.text(max_size=3),
            "duration_ms": st.floats(),
        },
    )
)
def test_generated_events_validate_alike(event: dict[str, Any]) -> None:
    as_dict, as_model = _both(event)
    if isinstance(as_dict, dict) and isinstance(as_model, dict):
        # NaN never equals itself: compare the JSON shapes instead.
        assert repr(as_dict) == repr(as_model)
    else:
        assert as_dict == as_model


def test_a_model_with_a_validator_of_its_own_is_refused() -> None:
    class Checked(BaseModel):
        a: int

        @model_validator(mode="after")
        def positive(self) -> Checked:
            if self.a < 0:
                raise ValueError("negative")
            return self

    with pytest.raises(UnsupportedSchema):
        dict_validator(Checked)
