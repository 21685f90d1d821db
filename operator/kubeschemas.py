"""JSON schemas for kubeconform, made locally (its default location downloads from GitHub).

- Custom resources: the `openAPIV3Schema` of every CRD in the given folders.
- Built-in kinds: Kubernetes' own OpenAPI (`api/openapi-spec/swagger.json` of the `k8s.io/kubernetes`
  Go module, fetched with `go mod download` from the module proxy), references inlined.
Objects with properties get `additionalProperties: false`, so `kubeconform -strict` refuses
unknown fields. Files are named `<kind>-<group>-<version>.json` (lower-case kind, empty group for
the core API), matching `-schema-location '<dir>/{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json'`.

Usage: python -m trodden.operator.kubeschemas OUT_DIR CRD_DIR... [--swagger FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

K8S_MODULE = "k8s.io/kubernetes@v1.34.4"


def strict(node: Any) -> Any:
    """A copy where every object with `properties` refuses others, recursively."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("x-kubernetes-int-or-string") or out.get("format") == "int-or-string":
        out.pop("type", None)
        out.pop("format", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    return out


def crd_schemas(folder: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                schema = dict(version["schema"]["openAPIV3Schema"])
                props = dict(schema.get("properties") or {})
                # metadata is checked by the API server; keep it open here as Kubernetes' own schemas do.
                props["metadata"] = {"type": "object"}
                props.setdefault("apiVersion", {"type": "string"})
                props.setdefault("kind", {"type": "string"})
                schema["properties"] = props
                name = f"{spec['names']['kind'].lower()}-{spec['group']}-{version['name']}.json"
                found[name] = strict(schema)
    return found


def _inline(node: Any, defs: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(n, defs, stack) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        key = ref.rsplit("/", 1)[-1]
        if key in stack:  # recursive types (JSONSchemaProps): leave open past the first level
            return {}
        merged = {**defs[key], **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs, (*stack, key))
    return {k: _inline(v, defs, stack) for k, v in node.items()}


def swagger_path() -> Path:
    out = subprocess.run(["go", "mod", "download", "-json", K8S_MODULE], capture_output=True, text=True, check=True)
    return Path(json.loads(out.stdout)["Dir"]) / "api" / "openapi-spec" / "swagger.json"


def builtin_schemas(swagger: Path) -> dict[str, dict[str, Any]]:
    defs: dict[str, Any] = json.loads(swagger.read_text())["definitions"]
    found: dict[str, dict[str, Any]] = {}
    for key, definition in defs.items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            if "metadata" not in (definition.get("properties") or {}):
                continue  # lists' items and subresources are not top-level manifests here
            schema = strict(_inline(definition, defs, (key,)))
            group = gvk["group"] or gvk["version"]  # kubeconform names the core group after its version
            found[f"{gvk['kind'].lower()}-{group}-{gvk['version']}.json"] = schema
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("crd_dirs", type=Path, nargs="+")
    parser.add_argument("--swagger", type=Path, default=None, help="Kubernetes swagger.json (default: go mod download)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    schemas = builtin_schemas(args.swagger or swagger_path())
    for folder in args.crd_dirs:
        schemas.update(crd_schemas(folder))
    for name, schema in schemas.items():
        (args.out / name).write_text(json.dumps(schema))
    print(f"wrote {len(schemas)} schemas to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
