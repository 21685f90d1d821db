"""The registry of applications: one module each; the CLI's `--app` choices come from here."""

from __future__ import annotations

from pathlib import Path

from ..model import RealApp
from .djadmin import DjangoAdminApp
from .kinto import KintoApp
from .kintoadmin import KintoAdminApp

APPS: dict[str, type[RealApp]] = {app.name: app for app in (KintoApp, DjangoAdminApp, KintoAdminApp)}


def make_app(name: str, run_dir: Path) -> RealApp:
    return APPS[name](run_dir)
