"""Near-duplicate journeys: MinHash LSH over step shingles, run on distinct journeys only.

Exact duplicates were already merged by signature (`journeys.py`). Here each distinct journey is
a set of shingles (its steps and its step-to-step transitions); MinHash signatures are computed
with vectorised universal hashing in numpy (a million journeys would take minutes through
`MinHash.update`), then indexed in datasketch's `MinHashLSH`. Clustering is greedy from the most
frequent journey down: a journey joins the first cluster representative whose exact Jaccard
similarity is at least the threshold, otherwise it starts a cluster. Exact Jaccard on the
candidates keeps LSH's false positives out; chaining (A~B, B~C, A≁C) cannot happen.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHashLSH

_CHUNK = 1 << 19  # shingle occurrences hashed at once (x num_perm x 8 bytes of memory)


def shingles(steps: Sequence[int], vocab_size: int) -> set[int]:
    """Unigrams and bigrams of a step sequence, as ints."""
    out = set(steps)
    out.update(vocab_size + a * vocab_size + b for a, b in itertools.pairwise(steps))
    return out


def jaccard(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def minhash_matrix(shingle_sets: Sequence[set[int]], num_perm: int = 128, seed: int = 1) -> npt.NDArray[np.uint32]:
    """[J, num_perm] MinHash values of each set, vectorised.

    Hash k of shingle x is multiply-shift hashing, ((a_k x + b_k) mod 2^64) >> 32 with odd a_k
    (universal for this purpose and free of the slow 64-bit modulo); each distinct shingle is
    hashed once, and a set's signature is the column-wise minimum over its shingles' rows."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
    lengths = np.fromiter((len(x) for x in shingle_sets), dtype=np.int64, count=len(shingle_sets))
    flat = np.fromiter((v for x in shingle_sets for v in x), dtype=np.int64, count=int(lengths.sum()))
    uniq, dense = np.unique(flat, return_inverse=True)
    with np.errstate(over="ignore"):
        table = ((uniq.astype(np.uint64)[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)).astype(np.uint32)
    out = np.full((len(shingle_sets), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    starts = np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)])
    n = len(shingle_sets)
    j = 0
    while j < n:
        # a chunk of whole sets whose occurrences fit in _CHUNK rows
        end = max(int(np.searchsorted(starts, starts[j] + _CHUNK, side="right")) - 1, j + 1)
        lo, hi = int(starts[j]), int(starts[end])
        nonempty = lengths[j:end] > 0
        if hi > lo:
            rows = table[dense[lo:hi]]
            out[np.arange(j, end)[nonempty]] = np.minimum.reduceat(rows, (starts[j:end] - lo)[nonempty], axis=0)
        j = end
    return out


def cluster_journeys(
    journey_steps: Sequence[Sequence[int]],
    counts: Sequence[int] | npt.NDArray[np.int64],
    vocab_size: int,
    threshold: float = 0.85,
    num_perm: int = 128,
) -> npt.NDArray[np.int32]:
    """[J] cluster id of each journey; the cluster id is the index of its representative journey."""
    n = len(journey_steps)
    cluster = np.arange(n, dtype=np.int32)
    if n == 0 or threshold >= 1.0:
        return cluster
    sets = [shingles(tuple(s), vocab_size) for s in journey_steps]
    matrix = minhash_matrix(sets, num_perm=num_perm)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    order = np.argsort(-np.asarray(counts, dtype=np.int64), kind="stable")
    for j in order.tolist():
        mh = LeanMinHash(seed=1, hashvalues=matrix[j], scheme="legacy")
        best = -1
        cands = np.array(lsh.query(mh), dtype=np.int64)
        if len(cands):
            # rank candidates by estimated similarity (one numpy call), verify exactly in that order
            estimate = (matrix[cands] == matrix[j]).mean(axis=1)
            for k in np.lexsort((cands, -estimate)).tolist():
                if estimate[k] < threshold - 0.15:
                    break
                if jaccard(sets[j], sets[int(cands[k])]) >= threshold:
                    best = int(cands[k])
                    break
        if best >= 0:
            cluster[j] = best
        else:
            lsh.insert(j, mh, check_duplication=False)
    return cluster
