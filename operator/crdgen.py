"""CustomResourceDefinitions generated from the pydantic models in `specs`.

Pydantic emits JSON Schema (draft 2020-12 with `$defs`, `anyOf [X, null]` for optionals, titles);
the API server wants a *structural* OpenAPI v3 schema: every node typed, references inlined, no
`additionalProperties: false` next to `properties`, no `null` branches. `structural()` does that
translation and nothing else, so a field added to a model appears in the CRD with its constraints,
defaults and CEL rules, and the drift test fails until `trodden crds` is run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trodden.operator.specs import GROUP, KINDS, VERSION, Kind

# JSON Schema keys the API server accepts in a structural schema (everything else is dropped).
_KEEP = {
    "type",
    "format",
    "description",
    "default",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = dict(defs[ref.rsplit("/", 1)[-1]])
    # Keys written next to a $ref (description, default) win over the target's.
    target.update({k: v for k, v in node.items() if k != "$ref"})
    return target


def _without_null(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, {type: null}]` (an Optional field) becomes X, keeping the outer keys."""
    branches = node.get("anyOf")
    if not branches:
        return node
    kept = [b for b in branches if b.get("type") != "null"]
    if len(kept) != 1:
        raise ValueError(f"only Optional[X] unions can become a structural schema, got {branches}")
    merged = dict(_resolve(kept[0], defs))
    merged.update({k: v for k, v in node.items() if k != "anyOf"})
    if merged.get("default", 0) is None:
        del merged["default"]
    return merged


def structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """One pydantic JSON-schema node → one structural OpenAPI v3 node (recursively)."""
    node = _without_null(_resolve(node, defs), defs)
    out: dict[str, Any] = {}
    if "const" in node:
        out["enum"] = [node["const"]]
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "properties":
            out[key] = {name: _property(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = structural(value, defs)
            # `False` (pydantic's extra="forbid") is not allowed next to properties; unknown fields
            # are refused by kubectl's strict field validation and pruned by the API server.
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # JSON Schema 2020 (pydantic's gt/lt) gives the bound; OpenAPI v3.0 (the API server's)
            # a minimum/maximum and a boolean, or the CRD is refused ("cannot unmarshal number").
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        else:
            out[key] = value
    for name in out.get("required", []):
        # A default on a required field would hide the "required" error from the user.
        out.get("properties", {}).get(name, {}).pop("default", None)
    if "type" not in out and "enum" in out:
        out["type"] = "string"
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        raise ValueError(f"an open object would need preserve-unknown-fields: {node}")
    return out


def _property(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    out = structural(node, defs)
    # A nested model with a default factory: default it to its fields' defaults, so the API server
    # fills them in (CEL rules on it are checked against this default when the CRD is created).
    if "$ref" in node and "default" not in out and out.get("type") == "object":
        out["default"] = {k: v["default"] for k, v in out.get("properties", {}).items() if "default" in v}
    return out


def schema_of(model: type[Any]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True)
    return structural(raw, raw.get("$defs", {}))


def crd(kind: Kind) -> dict[str, Any]:
    spec = schema_of(kind.spec)
    if kind.spec_rules:
        spec.setdefault("x-kubernetes-validations", []).extend(
            {"rule": rule, "message": message} for rule, message in kind.spec_rules
        )
    status = schema_of(kind.status)
    status["description"] = f"Observed state of the {kind.kind}, written by the operator."
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "trodden", "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["trodden"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": name, "type": typ, "jsonPath": path, **({"description": d} if d else {})}
                        for name, typ, path, d in kind.columns
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            **(
                                {
                                    "x-kubernetes-validations": [
                                        {"rule": rule, "message": message} for rule, message in kind.name_rules
                                    ]
                                }
                                if kind.name_rules
                                else {}
                            ),
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    return [crd(kind) for kind in KINDS]


HEADER = "# Generated by `trodden crds` from trodden/operator/specs.py: edit the models, not this file.\n"


class _NoAliasDumper(yaml.SafeDumper):
    """Shared sub-schemas are written out in full: CRD YAML with &anchors confuses readers and tools."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(doc: dict[str, Any]) -> str:
    return HEADER + yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False, width=120)


def rendered_files() -> dict[str, str]:
    """File name → content for every CRD."""
    return {f"{doc['spec']['names']['plural']}.{GROUP}.yaml": render(doc) for doc in all_crds()}


def write(*folders: Path) -> list[Path]:
    written: list[Path] = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in rendered_files().items():
            path = folder / name
            path.write_text(text)
            written.append(path)
    return written


def drift(*folders: Path) -> list[str]:
    """Files that differ from what the models generate (empty when in sync)."""
    expected = rendered_files()
    stale: list[str] = []
    for folder in folders:
        for name, text in expected.items():
            path = folder / name
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        for path in folder.glob(f"*.{GROUP}.yaml"):
            if path.name not in expected:
                stale.append(str(path))
    return stale
