"""The benchmark side of decontamination: reading benchmark files and the index that answers
"which benchmark item does this text repeat, contain or paraphrase?".

A benchmark is read once and indexed into numpy arrays kept in a cache folder under the hash
of its content (and of the fields read), so the next run loads it in milliseconds:

- word n-grams of the normalised text (13 words: the GPT-3 / OLMo decontamination), each
  n-gram a 64-bit hash, sorted, with the item that holds it; a lookup is a `searchsorted`.
  An item shorter than n words (but at least `min_ngram`) is one n-gram of its own length.
- word 5-grams the same way: the shortlist of items on which the longest common substring
  (difflib, on normalised characters) is measured.
- MiniLM vectors (L2-normalised float32, memory-mapped), so a cosine is one matrix product.

Word hashes come from blake2b, never `hash()`, whose value changes from one process to the next.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import os
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputFileError
from .text import normalize, record_text

log = logging.getLogger(__name__)

INDEX_VERSION = 1  # bump when what the cache holds changes meaning
SHORTLIST_N = 5  # words per n-gram of the LCS shortlist
SHORTLIST_K = 8  # items per candidate on which the LCS is measured
# an n-gram held by more items than this says nothing about any one of them ("what is the value of")
MAX_POSTINGS = 2000
ID_FIELDS = ("id", "idx", "_id", "question_id", "task_id")
_P = np.uint64(0x100000001B3)  # the multiplier of the polynomial n-gram hash (FNV's prime)
_LEN_MIX = 0x9E3779B97F4A7C15  # mixed in with the n-gram's length, so a 9-word item never equals a 13-gram


def _mix(n: int) -> np.uint64:
    return np.uint64((n * _LEN_MIX) & 0xFFFFFFFFFFFFFFFF)


def cache_root(configured: str | Path | None = None) -> Path:
    """Where benchmark indexes live: the configured folder, else $SYNTHLOOM_CACHE/decontaminate
    (the cache folder `train` uses too), else ~/.cache/synthloom/decontaminate."""
    if configured:
        return Path(configured)
    return Path(os.environ.get("SYNTHLOOM_CACHE", Path.home() / ".cache" / "synthloom")) / "decontaminate"


# ---------------------------------------------------------------- reading benchmark files


def _content_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path)).encode() if f != path else b"")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _rows(path: Path, split: str | None) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for each row of a benchmark file or datasets folder."""
    if path.is_dir():
        try:
            import datasets
        except ImportError as exc:
            from ..errors import MissingDependencyError

            raise MissingDependencyError("datasets", "hf", "benchmark folders saved by datasets") from exc
        try:
            ds = datasets.load_from_disk(str(path))
        except (FileNotFoundError, ValueError) as exc:
            raise InputFileError(f"{path}: not a folder written by datasets' save_to_disk ({exc}); "
                                 "give a .jsonl, .csv or .parquet file, or such a folder") from None
        if isinstance(ds, datasets.DatasetDict):
            if split is not None and split not in ds:
                raise InputFileError(f"{path}: no split {split!r} (splits: {', '.join(ds)}); fix `split`")
            parts = [(split, ds[split])] if split else list(ds.items())
            return [(f"{name}[{i}]", row) for name, part in parts for i, row in enumerate(part)]
        return [(f"[{i}]", row) for i, row in enumerate(ds)]
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            if not reader.fieldnames:
                raise InputFileError(f"{path}: empty CSV file (the first line must name the columns)")
            return [(f"line {n}", dict(r)) for n, r in enumerate(reader, 2)]
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            from ..errors import MissingDependencyError

            raise MissingDependencyError("pyarrow", "parquet", "Parquet benchmark files") from exc
        return [(f"row {i + 1}", r) for i, r in enumerate(pq.read_table(path).to_pylist())]
    if suffix in (".jsonl", ".json", ".ndjson"):
        from ..userfiles import jsonl_values

        return [(f"line {n}", v if isinstance(v, dict) else {"text": v})
                for n, v in jsonl_values(path, "each line must be one benchmark item (a JSON object)")]
    raise InputFileError(f"{path}: a benchmark must be .jsonl, .csv, .tsv or .parquet, or a datasets folder "
                         f"(got {suffix or 'no suffix'}); convert it or fix the path")


def read_benchmark(path: Path, fields: Sequence[str] | None = None, id_field: str | None = None,
                   split: str | None = None) -> tuple[list[str], list[str]]:
    """(item ids, item texts) of a benchmark; a field no row has is an error that lists the fields there are."""
    rows = _rows(path, split)
    if not rows:
        raise InputFileError(f"{path}: the benchmark has no items")
    have = sorted({k for _, r in rows[:100] for k in r})
    for name in [*(fields or []), *([id_field] if id_field else [])]:
        if not any(name.split(".")[0] in r for _, r in rows):
            raise InputFileError(f"{path}: no item has the field {name!r} (fields: {', '.join(have)}); "
                                 "fix `fields` / `id_field` of this benchmark")
    idf = id_field or next((f for f in ID_FIELDS if all(f in r for _, r in rows[:100])), None)
    ids, texts = [], []
    for where, row in rows:
        ids.append(str(row.get(idf)) if idf and row.get(idf) is not None else where)
        if fields:
            texts.append(record_text(row, list(fields)))
        else:  # every value in the file's order but the id: "cq-07" is no part of the item
            texts.append("\n".join(t for k, v in row.items() if k != idf for t in [record_text({k: v})] if t))
    return ids, texts


# ---------------------------------------------------------------- hashing word n-grams


class WordHasher:
    """A stable 64-bit id per word (blake2b), remembered for the words seen."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def ids(self, words: Sequence[str]) -> np.ndarray:
        known = self._ids
        out = np.empty(len(words), np.uint64)
        for i, w in enumerate(words):
            v = known.get(w)
            if v is None:
                v = known[w] = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            out[i] = v
        return out


def gram_hashes(tokens: np.ndarray, n: int) -> np.ndarray:
    """The hash of every n-gram of one token sequence (or of many, concatenated: mask the ones that straddle)."""
    m = len(tokens) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64)
    h = tokens[:m].copy()
    for j in range(1, n):
        h *= _P
        h += tokens[j : j + m]
    return h ^ _mix(n)


def _postings(tokens: np.ndarray, owner: np.ndarray, lengths: np.ndarray, n: int,
              min_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted gram hashes, their items, distinct grams per item) over all items at once."""
    h = gram_hashes(tokens, n)
    own = owner[: len(h)]
    keep = own == owner[n - 1 : n - 1 + len(h)] if len(h) else np.zeros(0, bool)  # both ends in one item
    hashes, items = [h[keep]], [own[keep]]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    for length in np.unique(lengths[(lengths < n) & (lengths >= min_len)]):
        which = np.flatnonzero(lengths == length)
        whole = np.stack([tokens[starts[which] + j] for j in range(int(length))], 1) if len(which) else None
        g = whole[:, 0].copy()
        for j in range(1, int(length)):
            g *= _P
            g += whole[:, j]
        hashes.append(g ^ _mix(int(length)))
        items.append(which.astype(np.int32))
    hashes_a = np.concatenate(hashes)
    items_a = np.concatenate(items).astype(np.int32)
    order = np.lexsort((items_a, hashes_a))
    hashes_a, items_a = hashes_a[order], items_a[order]
    if len(hashes_a):
        first = np.ones(len(hashes_a), bool)
        first[1:] = (hashes_a[1:] != hashes_a[:-1]) | (items_a[1:] != items_a[:-1])
        hashes_a, items_a = hashes_a[first], items_a[first]
    counts = np.bincount(items_a, minlength=len(lengths)).astype(np.int32)
    return hashes_a, items_a, counts


@dataclass(frozen=True)
class GramTable:
    """Sorted n-gram hashes of a benchmark and the item of each; `lengths`: the short-item gram lengths."""

    n: int
    hashes: np.ndarray
    items: np.ndarray
    counts: np.ndarray  # distinct grams per item
    short: tuple[int, ...]

    def query(self, tokens: np.ndarray) -> tuple[dict[int, int], int]:
        """({item: shared grams}, the text's distinct grams of length n)."""
        own = np.unique(gram_hashes(tokens, self.n))
        probe = [own] + [np.unique(gram_hashes(tokens, k)) for k in self.short if k <= len(tokens)]
        probe_a = np.concatenate(probe)
        lo = np.searchsorted(self.hashes, probe_a, "left")
        hi = np.searchsorted(self.hashes, probe_a, "right")
        found = (hi > lo) & (hi - lo <= MAX_POSTINGS)
        if not found.any():
            return {}, max(len(own), 1)
        hit_items = np.concatenate([self.items[a:b] for a, b in zip(lo[found], hi[found])])
        items, shared = np.unique(hit_items, return_counts=True)
        return dict(zip(items.tolist(), shared.tolist())), max(len(own), 1)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    from ..userfiles import atomic_path

    with atomic_path(path, "benchmark index") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def lcs_ratio(a: str, b: str) -> tuple[float, int]:
    """(longest common substring / length of the shorter text, its length in characters)."""
    if not a or not b:
        return 0.0, 0
    m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return m.size / min(len(a), len(b)), m.size


# ---------------------------------------------------------------- the index of one benchmark


@dataclass(frozen=True)
class Thresholds:
    """When each measure fires (None: the measure is off)."""

    ngram: float | None = 0.1
    lcs: float | None = 0.5
    lcs_min_chars: int = 40
    cosine: float | None = 0.8


@dataclass(frozen=True)
class Pair:
    """A text and its closest item of one benchmark, with every measure that was taken."""

    benchmark: str
    item: str  # the item's id
    item_text: str
    ngram: float  # shared n-grams / the shorter text's n-grams
    lcs: float  # longest common substring / the shorter normalised text
    cosine: float | None
    fired: tuple[str, ...]  # the measures at or over their threshold, in the order ngram, lcs, cosine
    strength: float  # the largest score / threshold: which pair is closest


class BenchmarkIndex:
    """One benchmark's items, n-gram tables and (when asked) vectors, built once and cached."""

    def __init__(self, name: str, path: Path, *, fields: Sequence[str] | None = None, id_field: str | None = None,
                 split: str | None = None, ngram: int = 13, min_ngram: int = 8,
                 cache: str | Path | None = None, notify: Callable[[str], None] | None = None) -> None:
        import orjson

        from ..userfiles import atomic_path, ensure_folder

        if not path.exists():
            raise InputFileError(f"benchmark {path}: no such file or folder; fix the path in `benchmarks` / --against")
        self.name, self.path, self.ngram, self.min_ngram = name, path, ngram, min_ngram
        key = hashlib.blake2b(repr((INDEX_VERSION, _content_hash(path), fields, id_field, split)).encode(),
                              digest_size=12).hexdigest()
        self.folder = ensure_folder(cache_root(cache) / f"{path.name[:40]}-{key}", "benchmark index cache")
        self.hasher = WordHasher()
        self.notify = notify or (lambda message: None)
        items = self.folder / "items.json"
        if items.is_file():
            stored = orjson.loads(items.read_bytes())
            self.ids, self.texts, self.norms = stored["ids"], stored["texts"], stored["norms"]
            self.built: list[str] = []
        else:
            from ..userfiles import show

            self.notify(f"benchmark {name}: indexing {show(path)} (once: kept in {show(self.folder)})")
            self.ids, self.texts = read_benchmark(path, fields, id_field, split)
            self.norms = [normalize(t) for t in self.texts]
            with atomic_path(items, "benchmark index") as tmp:
                tmp.write_bytes(orjson.dumps({"ids": self.ids, "texts": self.texts, "norms": self.norms}))
            self.built = ["items"]
        self.grams = self._table(ngram, min_ngram)
        self.shortlist = self._table(SHORTLIST_N, 3)
        self.vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self, norm: str) -> np.ndarray:
        return self.hasher.ids(norm.split())

    def _table(self, n: int, min_len: int) -> GramTable:
        path = self.folder / f"grams-{n}-{min_len}.npz"
        if path.is_file():
            with np.load(path) as z:
                return GramTable(n, z["hashes"], z["items"], z["counts"], tuple(int(x) for x in z["short"]))
        words = [t.split() for t in self.norms]
        lengths = np.fromiter((len(w) for w in words), np.int64, len(words))
        tokens = self.hasher.ids([w for ws in words for w in ws])
        owner = np.repeat(np.arange(len(words), dtype=np.int32), lengths)
        hashes, items, counts = _postings(tokens, owner, lengths, n, min_len)
        short = np.unique(lengths[(lengths < n) & (lengths >= min_len)]).astype(np.int64)
        _save_npz(path, hashes=hashes, items=items, counts=counts, short=short)
        self.built.append(f"{n}-grams")
        return GramTable(n, hashes, items, counts, tuple(int(x) for x in short))

    def embed(self, embedder: Any, batch: int = 512) -> None:
        """Load (or compute once and cache) the items' vectors from `embedder`."""
        tag = hashlib.blake2b(embedder.identity.encode(), digest_size=8).hexdigest()
        path = self.folder / f"vectors-{tag}.npy"
        if not path.is_file():
            from ..userfiles import atomic_path

            log.info("embedding %d items of benchmark %s with %s (once: cached in %s)",
                     len(self.texts), self.name, embedder.identity, self.folder)
            self.notify(f"benchmark {self.name}: embedding {len(self.texts)} items with {embedder.identity} "
                        "(once: the vectors are kept with the index)")
            parts = [embedder.embed(self.texts[s : s + batch]) for s in range(0, len(self.texts), batch)]
            with atomic_path(path, "benchmark index") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, np.concatenate(parts).astype(np.float32))
            self.built.append("vectors")
        self.vectors = np.load(path, mmap_mode="r")

    def similarities(self, vecs: np.ndarray) -> np.ndarray:
        """Cosines of each row of `vecs` with every item (rows: texts, columns: items)."""
        assert self.vectors is not None
        return np.asarray(vecs, np.float32) @ self.vectors.T

    def closest(self, norm: str, th: Thresholds, sims: np.ndarray | None = None) -> Pair | None:
        """The item closest to a text (normalised), by the largest score / threshold over the measures on."""
        tokens = self.tokens(norm)
        ngram: dict[int, float] = {}
        pool: set[int] = set()
        if th.ngram is not None:
            shared, own = self.grams.query(tokens)
            ngram = {i: k / max(1, min(int(self.grams.counts[i]), own)) for i, k in shared.items()}
            pool.update(sorted(ngram, key=ngram.__getitem__, reverse=True)[:SHORTLIST_K])
        if th.lcs is not None:
            shared, _ = self.shortlist.query(tokens)
            pool.update(sorted(shared, key=shared.__getitem__, reverse=True)[:SHORTLIST_K])
        if sims is not None and len(sims):
            k = min(3, len(sims))
            pool.update(np.argpartition(-sims, k - 1)[:k].tolist())
        best: Pair | None = None
        for i in pool:
            lcs, size = lcs_ratio(norm, self.norms[i]) if th.lcs is not None else (0.0, 0)
            cos = float(sims[i]) if sims is not None else None
            scores = {"ngram": (ngram.get(i, 0.0), th.ngram), "lcs": (lcs if size >= th.lcs_min_chars else 0.0, th.lcs),
                      "cosine": (cos or 0.0, th.cosine)}
            on = {m: (s, t) for m, (s, t) in scores.items() if t is not None}
            fired = tuple(m for m, (s, t) in on.items() if s >= t)
            strength = max(s / t for s, t in on.values())
            if best is None or (bool(fired), strength) > (bool(best.fired), best.strength):
                best = Pair(self.name, self.ids[i], self.texts[i], round(ngram.get(i, 0.0), 4), round(lcs, 4),
                            None if cos is None else round(cos, 4), fired, strength)
        return best
