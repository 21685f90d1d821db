"""Every package folder is in the distribution: setuptools installs only the packages listed in
pyproject.toml, so a new subpackage that is not listed works in the editable `.venv` and is missing
from wheels and from the project image (found when `trodden.synthesis.strategies` broke the image)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {Path(folder): name for name, folder in config["package-dir"].items()}
    found = set()
    for folder, name in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *relative.parts]))
    # Sub-trees mapped to their own name (trodden.collector lives in collector/, not trodden/collector/).
    assert found - set(config["packages"]) == set(), "add these to [tool.setuptools] packages"
