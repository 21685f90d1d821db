"""JSON pointers (RFC 6901) over parsed JSON: resolve one, or flatten a document into all of them.

Expectations, mined assertions, the miner and baseline diffs all address response fields by pointer;
the handful of lines here keep them in exact agreement on escaping and on what "missing" means.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Literal


class _Missing:
    """The value of a pointer that does not resolve (distinct from JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer`, or `MISSING`. "" addresses the whole document ("/" is the key "")."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        pointer = "/" + pointer  # tolerate "a/b" from hand-written suites
    current = document
    for raw in pointer[1:].split("/"):
        token = unescape(raw)
        if isinstance(current, dict):
            if token not in current:
                return MISSING
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit():
                return MISSING
            index = int(token)
            if index >= len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def flatten(document: Any, prefix: str = "", max_items: int = 200) -> dict[str, Any]:
    """Every leaf of `document` by pointer. Empty objects and arrays are leaves, so that a field
    that became `{}` differs from one that vanished. Arrays longer than `max_items` are cut (their
    length is still a leaf, `/path/#len`), which bounds the cost of diffing big listings."""
    out: dict[str, Any] = {}
    _flatten_into(document, prefix, out, max_items)
    return out


def _flatten_into(value: Any, prefix: str, out: dict[str, Any], max_items: int) -> None:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            _flatten_into(child, f"{prefix}/{escape(str(key))}", out, max_items)
    elif isinstance(value, list) and value:
        out[f"{prefix}/#len"] = len(value)
        for index, child in enumerate(value[:max_items]):
            _flatten_into(child, f"{prefix}/{index}", out, max_items)
    else:
        out[prefix] = value


def resolve_all(document: Any, pointer: str) -> list[tuple[str, Any]]:
    """Like `resolve`, with `*` standing for every item of an array (or value of an object):
    "/items/*/price" → [("/items/0/price", 9.5), ...]. Unresolved paths give `MISSING` entries,
    so "every item has a price" can fail on the item that lacks one."""
    if "*" not in pointer.split("/"):
        return [(pointer, resolve(document, pointer))]
    head, _, tail = pointer.partition("/*")
    container = resolve(document, head)
    if isinstance(container, list):
        children = [(f"{head}/{i}", item) for i, item in enumerate(container)]
    elif isinstance(container, dict):
        children = [(f"{head}/{escape(str(k))}", item) for k, item in container.items()]
    else:
        return [(head, MISSING)] if container is MISSING else []
    out: list[tuple[str, Any]] = []
    for path, child in children:
        out.extend((path + sub, value) for sub, value in resolve_all(child, tail))
    return out


def nodes(
    document: Any, *, arrays: Literal["star", "index", "skip"] = "star", max_items: int | None = 20
) -> Iterator[tuple[str, Any]]:
    """(pointer, value) of every node of a document, the root ("") first, depth first. The items of
    an array (its first `max_items`; None: all) share one pointer `.../*` as mined assertions address them
    (`arrays="star"`), get their index (`"index"`), or are not visited (`"skip"`)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        pointer, node = stack.pop()
        yield pointer, node
        if isinstance(node, dict):
            stack.extend((f"{pointer}/{escape(str(k))}", v) for k, v in reversed(node.items()))
        elif isinstance(node, list) and arrays != "skip":
            items = node if max_items is None else node[:max_items]
            if arrays == "star":
                stack.extend((f"{pointer}/*", v) for v in reversed(items))
            else:
                stack.extend((f"{pointer}/{i}", v) for i, v in reversed(list(enumerate(items))))
