"""`bulk_phase()`: the process settings under which journeys are built and sessions selected.

Building journeys and selecting run over flat arrays with a value per step (11 M steps at a million
sessions) and Python containers with an entry per distinct raw step (1.4 M). Two process-wide
defaults cost time there that grows faster than the sessions, so both are changed for the phase
and restored after (nested phases keep the outermost's restore):

- Python's cyclic garbage collector is paused. Collections are triggered by allocation counts, and
  a full (generation-2) one walks every live container of the process (the 1.4 M interned keys,
  the session ids, whatever the caller holds: a test's corpus, the operator's objects), so each
  costs a large fraction of a second at a million sessions and more with every larger heap. These
  phases create no reference cycles (tuples, lists, dicts, numpy arrays: freed by reference
  counting), so the collections could find nothing; what the phase leaves is collected as usual
  afterwards.
- glibc's malloc keeps freed large blocks for reuse. It serves a block above its mmap threshold
  (128 KiB, adjusted up to 32 MiB) with a fresh mmap and unmaps it on free, so every numpy
  temporary of tens of MB is page-faulted in and zeroed by the kernel again: at a million sessions
  that was 6-8 s of system time in build + select (a fifth of the CPU time), at 100k sessions
  under 0.5 s (the arrays fit under the threshold and are reused). Raising the mmap and trim
  thresholds for the phase serves them from the heap instead. After the phase the thresholds go
  back to glibc's defaults and free memory above the trim threshold is returned on the next free.
  Elsewhere than glibc (musl, macOS) this part does nothing.
"""

from __future__ import annotations

import ctypes
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_DEFAULT_THRESHOLD = 128 * 1024  # glibc's default for both
_PHASE_THRESHOLD = 1 << 30  # blocks up to 1 GiB come from (and go back to) the heap during a phase

_lock = threading.Lock()
_depth = 0  # phases running (nested or in several threads): the last one out restores
_gc_was_enabled = True


def _load_mallopt() -> Callable[[int, int], int] | None:
    try:
        mallopt: Callable[[int, int], int] = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no dlopen(NULL) or not glibc
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]  # type: ignore[attr-defined]
    mallopt.restype = ctypes.c_int  # type: ignore[attr-defined]
    return mallopt


_mallopt = _load_mallopt()


@contextmanager
def bulk_phase() -> Iterator[None]:
    """Run a block with the cyclic GC paused and large freed blocks kept for reuse (see above)."""
    global _depth, _gc_was_enabled
    with _lock:
        if _depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
            if _mallopt is not None:
                _mallopt(_M_MMAP_THRESHOLD, _PHASE_THRESHOLD)
                _mallopt(_M_TRIM_THRESHOLD, _PHASE_THRESHOLD)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _mallopt is not None:
                    _mallopt(_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD)
                    _mallopt(_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD)
                if _gc_was_enabled:
                    gc.enable()
