"""Imports across components are at the top of a module, where a reader sees them (issue 12).

A component is one of the folders mapped into `trodden.*` (pyproject's package-dir): the core
(`trodden/`), the collector, synthesis, the replay runner, the operator and the demo shop. An
import of another component's module inside a function body hides a dependency; the only ones
allowed are listed in ALLOWED, each with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package it is installed as
COMPONENTS = {
    "trodden": "trodden",
    "collector": "trodden.collector",
    "synthesis": "trodden.synthesis",
    "replay-runner": "trodden.replay",
    "operator": "trodden.operator",
    "examples/shop": "trodden.shop",
}
# (file, imported module) -> why it is imported where it is used
ALLOWED = {
    ("replay-runner/runner.py", "trodden.browser"): "Playwright loads only when a suite has browser tests",
    ("examples/shop/traffic/run.py", "trodden.browser"): "Playwright loads only when browser users are simulated",
}


def _component(module: str) -> str:
    """The package of the component a `trodden.…` module belongs to (the longest match)."""
    packages = sorted(COMPONENTS.values(), key=len, reverse=True)
    return next(p for p in packages if module == p or module.startswith(p + "."))


def _function_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.lineno, node.module))
            elif isinstance(node, ast.Import):
                found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_no_component_hides_an_import_of_another_inside_a_function() -> None:
    hidden = []
    for folder, package in COMPONENTS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if folder == "trodden" and any(rel.startswith(f"{f}/") for f in COMPONENTS if f != "trodden"):
                continue
            for line, module in _function_level_imports(ast.parse(path.read_text(), rel)):
                if not module.startswith("trodden"):
                    continue
                if _component(module) != package and (rel, module) not in ALLOWED:
                    hidden.append(f"{rel}:{line} imports {module} inside a function")
    assert not hidden, "\n".join(hidden)


def test_the_check_sees_a_hidden_import() -> None:
    tree = ast.parse("def f():\n    from trodden.replay.cli import parse_ignore_rules\n")
    assert _function_level_imports(tree) == [(2, "trodden.replay.cli")]
    assert _component("trodden.replay.cli") == "trodden.replay" and _component("trodden.models.suite") == "trodden"
