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
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.2, fn_weight: float = 0.8) -> tuple[int, int]:
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
    candidates: Iterable[int], shingles_of: Callable[[int], set], mine: set, threshold: float
) -> tuple[int, float] | None:
    """The candidate with the highest exact Jaccard at or above `threshold`, if any."""
    best: tuple[int, float] | None = None
    for key in candidates:
        other = shingles_of(key)
        union = len(mine | other)
        sim = len(mine & other) / union if union else 1.0
        if sim >= threshold and (best is None or sim > best[1]):
            best = (key, sim)
    return best
