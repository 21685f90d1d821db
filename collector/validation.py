"""Event validation that yields plain dicts instead of model objects.

The collector validates every incoming event against `trodden.models.events` and then needs the
event as a dict (it sanitises dicts and stores them as JSON). Building a pydantic model per event
only to read it back as a dict costs half the validation time, so the validators here are derived
from the models' own core schemas with every `model` turned into a `typed-dict` of the same
fields: the same constraints, the same discriminator and the same error types and locations, one
source of truth. Fields the client did not send stay absent (their defaults are not filled in), so
what is stored is what was sent, checked and typed.

A model with validators of its own (a `model_validator`, a custom `__init__`) cannot be checked this
way; `dict_validator` refuses such a schema at import time rather than skip a rule.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from pydantic_core import SchemaValidator

from trodden.models.events import Event

# Keys of a `model` schema that carry nothing a dict validator needs (checked so that a new kind of
# model-level behaviour fails loudly here instead of being dropped).
_IGNORED_MODEL_KEYS = {
    *("type", "cls", "schema", "config", "ref", "metadata", "serialization", "custom_init", "root_model"),
}


class UnsupportedSchema(TypeError):
    """The model uses something a dict validator cannot reproduce."""


def _typed_dict(model: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(model) - _IGNORED_MODEL_KEYS)
    if model.get("custom_init") or model.get("root_model") or unknown:
        raise UnsupportedSchema(f"{model.get('cls')}: model-level behaviour ({unknown})")
    inner = model["schema"]
    if inner.get("type") != "model-fields" or inner.get("computed_fields"):
        raise UnsupportedSchema(f"{model.get('cls')}: {inner.get('type')} schema with computed fields or validators")
    fields: dict[str, Any] = {}
    for name, field in inner["fields"].items():
        schema = field["schema"]
        required = True
        if schema.get("type") == "default":  # absent stays absent: no default filled in
            schema, required = schema["schema"], False
        typed: dict[str, Any] = {"type": "typed-dict-field", "schema": _convert(schema), "required": required}
        for key in ("validation_alias", "serialization_alias"):
            if key in field:
                typed[key] = field[key]
        fields[name] = typed
    config = model.get("config") or {}
    out: dict[str, Any] = {
        "type": "typed-dict",
        "fields": fields,
        "extra_behavior": inner.get("extra_behavior") or config.get("extra_fields_behavior", "ignore"),
    }
    if config:  # strictness, string and number options of the model apply to its fields here too
        out["config"] = config
    if "ref" in model:
        out["ref"] = model["ref"]
    return out


def _convert(schema: Any) -> Any:
    if isinstance(schema, dict):
        if schema.get("type") == "model":
            return _typed_dict(schema)
        if schema.get("type", "").startswith("function-") and _has_model(schema.get("schema")):
            raise UnsupportedSchema("a validator function wraps a model")
        return {k: _convert(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_convert(v) for v in schema]
    return schema


def _has_model(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "model"


def dict_validator(tp: Any) -> SchemaValidator:
    """A validator for `tp` (a model, or a type holding models) whose models come out as dicts."""
    return SchemaValidator(_convert(TypeAdapter(tp).core_schema))


EVENT_DICT = dict_validator(Event)
EVENT_DICTS = dict_validator(list[Event])
