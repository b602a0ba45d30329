"""MinHash signatures and an LSH index whose candidates are confirmed exactly.

Three signers give the same kind of signature (a row of `num_perm` unsigned
ints): `rensa` (Rust, fastest), `datasketch` (pure Python + numpy) and a
built-in numpy one that needs no extra. The index is ours: banding over
signature rows, so every signer plugs into the same code, and every LSH
candidate is confirmed with the exact Jaccard similarity of the shingle sets
— a pair is a near-duplicate only when its true Jaccard reaches the threshold.
"""
from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import MissingDependencyError

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64(0xFFFFFFFF)


def _fp_fn_probs(threshold: float, b: int, r: int, steps: int = 200) -> tuple[float, float]:
    xs = np.linspace(0.0, 1.0, steps + 1)
    p = 1.0 - (1.0 - xs**r) ** b
    lo, hi = xs <= threshold, xs >= threshold
    fp = np.trapezoid(p[lo], xs[lo]) if lo.sum() > 1 else 0.0
    fn = np.trapezoid(1.0 - p[hi], xs[hi]) if hi.sum() > 1 else 0.0
    return float(fp), float(fn)


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.05, fn_weight: float = 0.95) -> tuple[int, int]:
    """Bands and rows minimising weighted false positives/negatives.

    Recall is weighted higher than precision because candidates are confirmed
    with the exact Jaccard afterwards: a false positive costs one comparison.
    """
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp, fn = _fp_fn_probs(threshold, b, r)
            err = fp_weight * fp + fn_weight * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


class NumpySigner:
    name = "numpy"

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        rng = np.random.RandomState(seed)
        self.num_perm = num_perm
        self.a = rng.randint(1, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
        self.b = rng.randint(0, (1 << 61) - 1, size=num_perm, dtype=np.uint64)

    def sign(self, tokens: Iterable[str]) -> np.ndarray:
        hv = np.fromiter((zlib.crc32(t.encode("utf-8")) for t in tokens), dtype=np.uint64)
        if hv.size == 0:
            return np.full(self.num_perm, _MAX32, dtype=np.uint64)
        with np.errstate(over="ignore"):
            ph = ((hv[:, None] * self.a[None, :] + self.b[None, :]) % _MERSENNE) & _MAX32
        return ph.min(axis=0)

    def sign_many(self, token_sets: Sequence[Iterable[str]]) -> np.ndarray:
        return np.stack([self.sign(t) for t in token_sets]) if token_sets else np.zeros((0, self.num_perm), np.uint64)


class RensaSigner:
    name = "rensa"

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        try:
            import rensa
        except ImportError as exc:
            raise MissingDependencyError("rensa", "dedup", "MinHash dedup with backend rensa") from exc
        self._rensa = rensa
        self.num_perm, self.seed = num_perm, seed

    def sign(self, tokens: Iterable[str]) -> np.ndarray:
        m = self._rensa.RMinHash(num_perm=self.num_perm, seed=self.seed)
        m.update(list(tokens))
        return np.asarray(m.digest(), dtype=np.uint64)

    def sign_many(self, token_sets: Sequence[Iterable[str]]) -> np.ndarray:
        if not token_sets:
            return np.zeros((0, self.num_perm), np.uint64)
        mat = self._rensa.RMinHash.digest_matrix_from_token_sets(
            [list(t) for t in token_sets], num_perm=self.num_perm, seed=self.seed
        )
        return np.asarray(mat.to_rows(), dtype=np.uint64)


class DatasketchSigner:
    name = "datasketch"

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        try:
            import datasketch
        except ImportError as exc:
            raise MissingDependencyError("datasketch", "dedup", "MinHash dedup with backend datasketch") from exc
        self._ds = datasketch
        self.num_perm, self.seed = num_perm, seed
        self._proto = datasketch.MinHash(num_perm=num_perm, seed=seed)

    def sign(self, tokens: Iterable[str]) -> np.ndarray:
        m = self._proto.copy()  # empty, with the permutations already drawn
        m.update_batch([t.encode("utf-8") for t in tokens])
        return m.hashvalues.astype(np.uint64)

    def sign_many(self, token_sets: Sequence[Iterable[str]]) -> np.ndarray:
        if not token_sets:
            return np.zeros((0, self.num_perm), np.uint64)
        encoded = [[t.encode("utf-8") for t in ts] for ts in token_sets]
        ms = self._ds.MinHash.bulk(encoded, num_perm=self.num_perm, seed=self.seed)
        return np.stack([m.hashvalues for m in ms]).astype(np.uint64)


def make_signer(backend: str = "auto", num_perm: int = 128, seed: int = 1):
    if backend == "auto":
        for cls in (RensaSigner, DatasketchSigner):
            try:
                return cls(num_perm, seed)
            except MissingDependencyError:
                continue
        return NumpySigner(num_perm, seed)
    return {"rensa": RensaSigner, "datasketch": DatasketchSigner, "numpy": NumpySigner}[backend](num_perm, seed)


class LSHIndex:
    """Banded LSH over MinHash rows; items are integer keys given in insertion order."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        self.bands, self.rows = lsh_params(round(threshold, 3), num_perm)
        self._tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]

    def _keys(self, sig: np.ndarray) -> list[bytes]:
        r = self.rows
        return [sig[i * r : (i + 1) * r].tobytes() for i in range(self.bands)]

    def query(self, sig: np.ndarray) -> list[int]:
        seen: dict[int, None] = {}
        for table, key in zip(self._tables, self._keys(sig)):
            for item in table.get(key, ()):
                seen[item] = None
        return list(seen)

    def insert(self, key: int, sig: np.ndarray) -> None:
        for table, k in zip(self._tables, self._keys(sig)):
            table.setdefault(k, []).append(key)


def best_match(
    candidates: Iterable[int], shingles_of: Callable[[int], set], mine: set, threshold: float, first: bool = False
) -> tuple[int, float] | None:
    """The candidate with the highest exact Jaccard at or above `threshold` (or the first such, if `first`)."""
    best: tuple[int, float] | None = None
    for key in candidates:
        other = shingles_of(key)
        inter = len(mine & other)
        union = len(mine) + len(other) - inter
        sim = inter / union if union else 1.0
        if sim >= threshold and (best is None or sim > best[1]):
            best = (key, sim)
            if first:
                break
    return best


def band_hashes(sigs: np.ndarray, bands: int, rows: int, seed: int = 7) -> np.ndarray:
    """One uint64 hash per (row, band): a random linear map of the band's values (wrapping)."""
    rng = np.random.RandomState(seed)
    mult = rng.randint(1, 2**62, size=(bands, rows), dtype=np.uint64) | np.uint64(1)
    out = np.empty((sigs.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(bands):
            block = sigs[:, b * rows : (b + 1) * rows].astype(np.uint64)
            out[:, b] = (block * mult[b]).sum(axis=1, dtype=np.uint64) + np.uint64(b)
    return out


def candidate_pairs(hashes: np.ndarray, max_back: int = 8) -> dict[int, np.ndarray]:
    """For each item, the earlier items sharing a band bucket (at most `max_back` per band): {item: candidates}.

    Candidates come most-shared-bands first: the likeliest near-duplicate is confirmed first.
    """
    n = hashes.shape[0]
    firsts, seconds = [], []
    for b in range(hashes.shape[1]):
        col = hashes[:, b]
        order = np.lexsort((np.arange(n), col))  # by hash, then by position
        sorted_h = col[order]
        for d in range(1, max_back + 1):
            if d >= n:
                break
            same = sorted_h[d:] == sorted_h[:-d]
            if not same.any():
                break
            firsts.append(order[d:][same])
            seconds.append(order[:-d][same])
    if not firsts:
        return {}
    later = np.concatenate(firsts)
    earlier = np.concatenate(seconds)
    key = later.astype(np.int64) * n + earlier.astype(np.int64)
    uniq, shared = np.unique(key, return_counts=True)
    later, earlier = uniq // n, uniq % n
    order = np.lexsort((-shared, later))  # by item, then most shared bands first
    later, earlier = later[order], earlier[order]
    out: dict[int, np.ndarray] = {}
    splits = np.flatnonzero(np.diff(later)) + 1
    for lat, chunk in zip(later[np.concatenate([[0], splits])], np.split(earlier, splits)):
        out[int(lat)] = chunk
    return out


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads the bits of a linear rolling hash."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


_ROLL = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                  0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63], dtype=np.uint64)


def flat_char_ngram_hashes(norm_texts: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every character n-gram of each (already normalized) text, flat, with row offsets.

    Vectorised over the whole batch: the texts are joined with NUL separators,
    read as UTF-32 code points, and each window is hashed with a polynomial
    of its code points plus a bit mixer. A text shorter than n is padded, so
    it still gives one n-gram (itself).
    """
    padded = [t.ljust(n) for t in norm_texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    cp = np.frombuffer("\0".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    windows = len(cp) - n + 1
    mults = np.resize(_ROLL, n)
    with np.errstate(over="ignore"):
        h = cp[:windows] * mults[0]
        for k in range(1, n):
            h = h + cp[k : k + windows] * mults[k]
    h = _mix64(h)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    counts = lengths - n + 1
    # window indices of text k: starts[k] .. starts[k] + counts[k] - 1
    total = int(counts.sum())
    rep = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    idx = np.arange(total, dtype=np.int64) + rep
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint64)
    return h[idx], offsets


def rensa_flat_signatures(flat: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = 1) -> np.ndarray:
    import rensa

    mat = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, num_perm, seed)
    return np.asarray(mat.to_rows(), dtype=np.uint64)
