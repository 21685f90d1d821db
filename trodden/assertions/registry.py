"""Every assertion kind, once. The IR's `Assertion` type, the kind names and the families are
derived from this list: adding a kind is one module under `kinds/` and one entry here (see
docs/architecture.md, "A new assertion kind")."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import Field, TypeAdapter

from trodden.assertions.base import AssertionBase
from trodden.assertions.kinds.co_occurs import CoOccursAssertion
from trodden.assertions.kinds.error_shape import ErrorShapeAssertion
from trodden.assertions.kinds.followed_by import FollowedByAssertion
from trodden.assertions.kinds.format import FormatAssertion
from trodden.assertions.kinds.latency import LatencyAssertion
from trodden.assertions.kinds.not_null import NotNullAssertion
from trodden.assertions.kinds.page_latency import PageLatencyAssertion
from trodden.assertions.kinds.page_status import PageStatusAssertion
from trodden.assertions.kinds.page_structure import PageStructureAssertion
from trodden.assertions.kinds.preceded_by import PrecededByAssertion
from trodden.assertions.kinds.present import PresentAssertion
from trodden.assertions.kinds.range import RangeAssertion
from trodden.assertions.kinds.status import StatusAssertion
from trodden.assertions.kinds.type import TypeAssertion
from trodden.assertions.kinds.value_set import ValueSetAssertion

Assertion = Annotated[
    StatusAssertion
    | LatencyAssertion
    | PresentAssertion
    | NotNullAssertion
    | TypeAssertion
    | FormatAssertion
    | ValueSetAssertion
    | RangeAssertion
    | ErrorShapeAssertion
    | FollowedByAssertion
    | PrecededByAssertion
    | CoOccursAssertion
    | PageStatusAssertion
    | PageLatencyAssertion
    | PageStructureAssertion,
    Field(discriminator="kind"),
]

KINDS: dict[str, type[AssertionBase]] = {
    cls.model_fields["kind"].default: cls for cls in get_args(get_args(Assertion)[0])
}
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
TEMPORAL_KINDS: frozenset[str] = frozenset(name for name, cls in KINDS.items() if cls.temporal)

_ADAPTER: TypeAdapter[Assertion] = TypeAdapter(Assertion)
_LIST_ADAPTER: TypeAdapter[list[Assertion]] = TypeAdapter(list[Assertion])


def make_assertion(data: dict[str, Any]) -> Assertion:
    """An assertion of the kind `data["kind"]` names, validated (ValidationError if it is not one)."""
    return _ADAPTER.validate_python(data)


def load_assertions(data: list[dict[str, Any]]) -> list[Assertion]:
    return _LIST_ADAPTER.validate_python(data)
