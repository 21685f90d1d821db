"""Set operations on numpy arrays that selection and its signals share, by sorting: `np.unique`
hashes large integer arrays, which at a million sessions took seconds where a sort takes a fraction."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def sorted_unique(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Unique values of an already sorted array in O(n) (occurrence → session is non-decreasing)."""
    if len(x) == 0:
        return x
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = x[1:] != x[:-1]
    return x[keep]
