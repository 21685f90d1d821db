"""Settings documents read from files the operator mounts from ConfigMaps, re-read when they change.

A Kubernetes ConfigMap volume updates by swapping a symlink, so the file's mtime changes; a stat per
read is cheap next to a request. A file that becomes invalid keeps the last good document in force
(and says so in the log) rather than taking the collector down.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from trodden.log import get_logger

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)


class WatchedDocument(Generic[M]):
    """`current()` returns the document in `path` (or `default()` without a path)."""

    def __init__(self, path: str | Path | None, model: type[M], default: Callable[[], M]) -> None:
        self.path = Path(path) if path else None
        self.model = model
        self._doc = default()
        self._stamp: tuple[int, int] | None = None
        if self.path is not None:
            self.load(strict=True)

    def load(self, strict: bool = False) -> bool:
        """Re-read when the file changed; True when a new document took effect."""
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # not mounted yet: defaults until it appears
        except OSError as exc:
            if strict:
                raise ValueError(f"{self.path}: {exc.strerror}") from exc
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        try:
            doc = self.model.model_validate_json(self.path.read_bytes())
        except (OSError, ValidationError) as exc:
            if strict:
                raise ValueError(f"{self.path}: {str(exc).splitlines()[0]}") from exc
            log.error("config file invalid; keeping the previous document", path=str(self.path), error=str(exc)[:300])
            self._stamp = stamp
            return False
        self._doc = doc
        self._stamp = stamp
        log.info("config file loaded", path=str(self.path))
        return True

    def current(self) -> M:
        if self.path is not None:
            self.load()
        return self._doc
