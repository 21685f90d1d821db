"""Process-wide settings read from the environment, with the defaults DESIGN.md names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def trodden_home() -> Path:
    """Where the embedded database and local artefacts live (`$TRODDEN_HOME`)."""
    raw = os.environ.get("TRODDEN_HOME")
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "trodden"


def in_cluster() -> bool:
    return "KUBERNETES_SERVICE_HOST" in os.environ


@dataclass(frozen=True)
class Settings:
    dsn: str | None
    home: Path
    log_format: str  # "json" or "console"
    log_level: str

    @classmethod
    def from_env(cls, dsn: str | None = None) -> Settings:
        fmt = os.environ.get("TRODDEN_LOG_FORMAT") or ("json" if in_cluster() else "console")
        return cls(
            dsn=dsn or os.environ.get("TRODDEN_DSN") or None,
            home=trodden_home(),
            log_format=fmt,
            log_level=os.environ.get("TRODDEN_LOG_LEVEL", "info"),
        )
