"""Deduplication: exact, near-duplicate (MinHash LSH, confirmed exactly) and semantic.

`DedupIndex` is the shared engine: `find(text)` names the indexed item a text
repeats (or None), `add(text)` indexes it. The gate keeps one index of the
accepted records (primed from the store on resume, committed on accept) and,
for decontamination, one of reference records that must never be repeated.
`dedup_texts` runs the same logic over a whole file, keeping the first of each group.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..records import Record, Rejection
from .base import GateContext
from .dedup_vectors import VectorStore
from .minhash import LSHIndex, best_match, make_signer
from .text import exact_key, record_text, shingles


@dataclass(frozen=True)
class Match:
    key: int  # position of the matched item in its index
    similarity: float
    text: str


class _MemoryTable:
    """Where a DedupIndex keeps its items while they are few: a dict of exact keys, the texts, LSH bands."""

    def __init__(self, bands: int) -> None:
        self.keys: dict[bytes, int] = {}
        self.texts: list[str] = []
        self.bands: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]

    def __len__(self) -> int:
        return len(self.texts)

    def key(self, h: bytes) -> int | None:
        return self.keys.get(h)

    def text(self, pos: int) -> str:
        return self.texts[pos]

    def all_texts(self) -> list[str]:
        return self.texts

    def add(self, h: bytes, text: str, band_keys: list[bytes]) -> int:
        pos = len(self.texts)
        self.texts.append(text)
        self.keys.setdefault(h, pos)
        for table, k in zip(self.bands, band_keys):
            table.setdefault(k, []).append(pos)
        return pos

    def query(self, band_keys: list[bytes]) -> list[int]:
        seen: dict[int, None] = {}
        for table, k in zip(self.bands, band_keys):
            for pos in table.get(k, ()):
                seen[pos] = None
        return list(seen)


class _Bloom:
    """A fixed-size Bloom filter over 16-byte hashes: "certainly not indexed" without reading the table.
    4 MiB, 3 bits a key: about 0.06% false positives at 1M keys and 20% at 10M (a false positive reads the
    table, as every lookup did without the filter); most lookups of a dedup gate are of new texts. Written
    out without a helper or a generator: it is asked once per candidate and set once per accepted record."""

    BITS = 1 << 25

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)

    def add(self, h: bytes) -> None:
        x, bits = int.from_bytes(h[:10], "little"), self.bits
        p, q, r = x & 0x1FFFFFF, (x >> 25) & 0x1FFFFFF, (x >> 50) & 0x1FFFFFF
        bits[p >> 3] |= 1 << (p & 7)
        bits[q >> 3] |= 1 << (q & 7)
        bits[r >> 3] |= 1 << (r & 7)

    def __contains__(self, h: bytes) -> bool:
        x, bits = int.from_bytes(h[:10], "little"), self.bits
        p, q, r = x & 0x1FFFFFF, (x >> 25) & 0x1FFFFFF, (x >> 50) & 0x1FFFFFF
        return bool(bits[p >> 3] >> (p & 7) & 1 and bits[q >> 3] >> (q & 7) & 1 and bits[r >> 3] >> (r & 7) & 1)


class _SqliteTable:
    """The same on a private temporary SQLite file (deleted on close): memory stays at SQLite's page cache,
    a 4 MiB Bloom filter of the exact keys, the last `flush_at` texts and the last `key_batch` exact keys,
    however many items it holds. Texts (and MinHash bands) are written `flush_at` at a time in one
    transaction; exact keys `key_batch` at a time, sorted, so one batch walks the key table's B-tree pages
    once in order instead of one random page per key (what made the spilled index's cost grow with its
    size). Until written, both are found among the pending ones. A run rebuilds the table from its store on
    resume (`DedupGate.prime`)."""

    flush_at = 64

    def __init__(self, bands: int, key_batch: int = 20_000) -> None:
        from ..runs.scratch import scratch_db

        self.key_batch = max(1, key_batch)
        self.db = scratch_db(
            2048,
            "CREATE TABLE t (pos INTEGER PRIMARY KEY, text TEXT NOT NULL);"
            "CREATE TABLE k (h BLOB PRIMARY KEY, pos INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE b (h BLOB NOT NULL, pos INTEGER NOT NULL);"
            "CREATE INDEX b_h ON b (h);")
        self.n = self.flushed = 0
        self.bloom = _Bloom()
        self.pending_t: list[str] = []  # texts of positions flushed..n-1
        self.pending_k: dict[bytes, int] = {}  # exact keys not yet in table k (the first position of each)
        self.pending_b: dict[bytes, list[int]] = {}

    def __len__(self) -> int:
        return self.n

    @staticmethod
    def _band(i: int, k: bytes) -> bytes:
        import hashlib

        return hashlib.blake2b(k, digest_size=8, person=i.to_bytes(2, "little")).digest()

    def key(self, h: bytes) -> int | None:
        if h not in self.bloom:
            return None
        row = self.db.execute("SELECT pos FROM k WHERE h=?", (h,)).fetchone()
        return self.pending_k.get(h) if row is None else row[0]  # the first item with a key keeps it

    def text(self, pos: int) -> str:
        if pos >= self.flushed:
            return self.pending_t[pos - self.flushed]
        return self.db.execute("SELECT text FROM t WHERE pos=?", (pos,)).fetchone()[0]

    def all_texts(self) -> list[str]:
        self.flush()
        return [t for (t,) in self.db.execute("SELECT text FROM t ORDER BY pos")]

    def add(self, h: bytes, text: str, band_keys: list[bytes]) -> int:
        pos = self.n
        self.n += 1
        self.pending_t.append(text)
        self.pending_k.setdefault(h, pos)  # a key already in table k keeps its position there (INSERT OR IGNORE)
        self.bloom.add(h)
        for i, k in enumerate(band_keys):
            self.pending_b.setdefault(self._band(i, k), []).append(pos)
        if len(self.pending_t) >= self.flush_at:
            self.flush(keys=len(self.pending_k) >= self.key_batch)
        return pos

    def flush(self, keys: bool = True) -> None:
        if not self.pending_t and not (keys and self.pending_k):
            return
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO t (pos, text) VALUES (?,?)", enumerate(self.pending_t, self.flushed))
        if keys:
            self.db.executemany("INSERT OR IGNORE INTO k (h, pos) VALUES (?,?)", sorted(self.pending_k.items()))
            self.pending_k = {}
        self.db.executemany("INSERT INTO b (h, pos) VALUES (?,?)",
                            sorted((h, pos) for h, ps in self.pending_b.items() for pos in ps))
        self.db.execute("COMMIT")
        self.flushed = self.n
        self.pending_t, self.pending_b = [], {}

    def add_all(self, table: _MemoryTable) -> None:
        """Move a memory table's items here, in their order."""
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO t (pos, text) VALUES (?,?)", enumerate(table.texts))
        self.db.executemany("INSERT OR IGNORE INTO k (h, pos) VALUES (?,?)", sorted(table.keys.items()))
        self.db.executemany("INSERT INTO b (h, pos) VALUES (?,?)",
                            ((self._band(i, k), pos) for i, band in enumerate(table.bands)
                             for k, ps in band.items() for pos in ps))
        self.db.execute("COMMIT")
        for h in table.keys:
            self.bloom.add(h)
        self.n = self.flushed = len(table.texts)

    def query(self, band_keys: list[bytes]) -> list[int]:
        seen: dict[int, None] = {}
        for i, k in enumerate(band_keys):
            h = self._band(i, k)
            for (pos,) in self.db.execute("SELECT pos FROM b WHERE h=?", (h,)):
                seen[pos] = None
            for pos in self.pending_b.get(h, ()):
                seen[pos] = None
        return list(seen)


class DedupIndex:
    """An index of texts answering "which indexed text does this one repeat?".

    Exact and MinHash indexes keep fixed-size keys (a 16-byte hash per text, one hash per MinHash band)
    and the texts (to show what a duplicate repeats, and to confirm a near match by exact Jaccard). Up to
    `spill_at` items they live in memory; past it they move to a temporary SQLite file, so a run of any
    size holds the same memory. Semantic indexes keep their vectors in one memory block and a temporary
    file (`VectorStore`)."""

    spill_at = 20_000

    def __init__(self, method: str = "exact", threshold: float | None = None, *, ngram: int = 5,
                 unit: str = "char", num_perm: int = 128, backend: str = "auto", embedder: Any = None) -> None:
        self.method = method
        self.threshold = threshold if threshold is not None else {"exact": 1.0, "minhash": 0.8, "semantic": 0.85}[method]
        self.ngram, self.unit = ngram, unit
        bands = 0
        if method == "minhash":
            self.signer = make_signer(backend, num_perm)
            self.lsh = LSHIndex(self.threshold, num_perm)  # its band layout; the items are in self._table
            bands = self.lsh.bands
        elif method == "semantic":
            if embedder is None:
                from .embeddings import make_embedder

                embedder = make_embedder()
            self.embedder = embedder
            self._vecs = VectorStore()  # in fixed memory: one block, the rest on disk (quality/dedup_vectors.py)
        elif method != "exact":
            raise ValueError(f"unknown dedup method {method!r}: use exact, minhash or semantic")
        self._table: _MemoryTable | _SqliteTable = _MemoryTable(bands)

    def __len__(self) -> int:
        return len(self._table)

    @property
    def texts(self) -> list[str]:
        return self._table.all_texts()

    @property
    def spilled(self) -> bool:
        return isinstance(self._table, _SqliteTable)

    # a candidate's key is asked for three times (the gate's check, its final check, its commit), a few dozen
    # other candidates apart at most: kept for the last 256 texts
    _hash = staticmethod(functools.lru_cache(maxsize=256)(exact_key))

    # exact matches are always duplicates, whatever the method
    def _find_exact(self, text: str) -> Match | None:
        key = self._table.key(self._hash(text))
        return None if key is None else Match(key, 1.0, self._table.text(key))

    def _shingles_of(self, pos: int) -> set[str]:
        return shingles(self._table.text(pos), self.ngram, self.unit)

    def find(self, text: str, *, vector: np.ndarray | None = None, sig: np.ndarray | None = None,
             sh: set | None = None) -> Match | None:
        hit = self._find_exact(text)
        if hit or self.method == "exact":
            return hit
        if self.method == "minhash":
            sh = sh if sh is not None else shingles(text, self.ngram, self.unit)
            sig = sig if sig is not None else self.signer.sign(sh)
            found = best_match(self._table.query(self.lsh._keys(sig)), self._shingles_of, sh, self.threshold)
            return None if found is None else Match(found[0], found[1], self._table.text(found[0]))
        vec = vector if vector is not None else self.embedder.embed([text])[0]
        j, sim = self._vecs.best(vec)
        return Match(j, float(sim), self._table.text(j)) if j >= 0 and sim >= self.threshold else None

    def add(self, text: str, *, vector: np.ndarray | None = None, sig: np.ndarray | None = None,
            sh: set | None = None) -> int:
        band_keys: list[bytes] = []
        if self.method == "minhash":
            if sig is None:
                sig = self.signer.sign(sh if sh is not None else shingles(text, self.ngram, self.unit))
            band_keys = self.lsh._keys(sig)
        elif self.method == "semantic":
            self._vecs.add(vector if vector is not None else self.embedder.embed([text])[0])
        if not self.spilled and len(self._table) >= self.spill_at:
            spilled = _SqliteTable(len(band_keys), key_batch=self.spill_at)  # no more keys held than before
            spilled.add_all(self._table)  # type: ignore[arg-type]
            self._table = spilled
        return self._table.add(self._hash(text), text, band_keys)

    def add_many(self, texts: Sequence[str]) -> None:
        vecs = self.embedder.embed(list(texts)) if self.method == "semantic" and texts else None
        for i, t in enumerate(texts):
            self.add(t, vector=None if vecs is None else vecs[i])


def dedup_texts(texts: Sequence[str], method: str = "exact", threshold: float | None = None, *,
                reference: Sequence[str] = (), ngram: int = 5, unit: str = "char", num_perm: int = 128,
                backend: str = "auto", embedder: Any = None, batch: int = 4096) -> list[tuple[str, int, float] | None]:
    """For each text: None to keep it, or (kind, index, similarity) naming what it repeats.

    kind is "kept" (an earlier kept text, by position in `texts`) or "reference".
    Keeps the first text of each group; a text that repeats a reference is dropped.
    """
    from .dedup_bulk import minhash_bulk, semantic_bulk

    if method == "minhash":
        return minhash_bulk(texts, threshold if threshold is not None else 0.8, reference=reference, ngram=ngram,
                             unit=unit, num_perm=num_perm, backend=backend, batch=batch)
    if method == "semantic":
        return semantic_bulk(texts, threshold if threshold is not None else 0.85, reference=reference,
                              embedder=embedder, batch=min(batch, 1024))
    ref = None
    if reference:
        ref = DedupIndex(method, threshold, embedder=embedder)
        ref.add_many(list(reference))
        embedder = getattr(ref, "embedder", embedder)
    idx = DedupIndex(method, threshold, embedder=embedder)
    positions: list[int] = []  # index key -> position in texts
    out: list[tuple[str, int, float] | None] = []
    for start in range(0, len(texts), batch):
        chunk = list(texts[start : start + batch])
        vecs = idx.embedder.embed(chunk) if method == "semantic" else None
        for i, text in enumerate(chunk):
            vec = None if vecs is None else vecs[i]
            if ref is not None:
                hit = ref.find(text, vector=vec)
                if hit:
                    out.append(("reference", hit.key, hit.similarity))
                    continue
            hit = idx.find(text, vector=vec)
            if hit:
                out.append(("kept", positions[hit.key], hit.similarity))
                continue
            idx.add(text, vector=vec)
            positions.append(start + i)
            out.append(None)
    return out


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def load_reference_texts(paths: Iterable[str], field: str | list[str] | None, base_dir: Path) -> list[str]:
    from ..errors import InputFileError
    from ..userfiles import read_text
    import orjson

    fields = [field] if isinstance(field, str) else field
    texts: list[str] = []
    for p in paths:
        path = Path(p) if Path(p).is_absolute() else base_dir / p
        if not path.is_file():
            raise InputFileError(f"dedup reference file {path} does not exist: fix `reference:` in the dedup gate")
        for n, line in enumerate(read_text(path, "dedup reference file").splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputFileError(f"{path}:{n}: not valid JSON ({exc}); each line must be one JSON record") from exc
            texts.append(record_text(value, fields) if isinstance(value, dict)
                         else value if isinstance(value, str) else record_text(value))  # an array record: its JSON
    return texts


_KIND = {"exact": "exact", "minhash": "near", "semantic": "semantic"}


class DedupGate:
    """Rejects a candidate that repeats an accepted record or a reference record."""

    stage = "dedup"
    stateful = True

    def __init__(self, method: str = "exact", threshold: float | None = None, fields: list[str] | None = None, *,
                 reference: Sequence[str] = (), ngram: int = 5, unit: str = "char", num_perm: int = 128,
                 backend: str = "auto", embedder: Any = None) -> None:
        self.name = f"dedup:{method}"
        self.method, self.fields = method, fields
        kw = dict(ngram=ngram, unit=unit, num_perm=num_perm, backend=backend)
        self._kw = kw
        self.index = DedupIndex(method, threshold, embedder=embedder, **kw)
        self.threshold = self.index.threshold
        self.reference = None
        if reference:
            self.reference = DedupIndex(method, threshold, embedder=getattr(self.index, "embedder", None), **kw)
            if method == "minhash":
                self.reference.signer = self.index.signer
            self.reference.add_many(list(reference))

    def _measure(self) -> str:
        return {"exact": "normalized text", "minhash": "Jaccard", "semantic": "cosine"}[self.method]

    def prime(self, accepted: Iterable[Record]) -> None:
        signer = getattr(self.index, "signer", None)
        self.index = DedupIndex(self.method, self.threshold, embedder=getattr(self.index, "embedder", None), **self._kw)
        if signer is not None:
            self.index.signer = signer
        if self.method == "semantic":  # embedded a chunk at a time: a resumed run of any size streams too
            from itertools import islice

            texts = (record_text(r.data, self.fields) for r in accepted)
            while chunk := list(islice(texts, 1024)):
                self.index.add_many(chunk)
            return
        for r in accepted:  # one at a time: a resumed run of any size streams through here
            self.index.add(record_text(r.data, self.fields))

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        text = record_text(rec.data, self.fields)
        vec = None
        if self.method == "semantic":
            vec = (await self.index.embedder.aembed([text]))[0]
        found = self._repeat(self.reference, text, vec) if self.reference is not None else None
        if found:
            return Rejection.of(rec, "dedup", f"contaminated_{found[0]}", f"repeats reference record {found[1]}")
        found = self._repeat(self.index, text, vec)
        if found:
            return Rejection.of(rec, "dedup", f"{found[0]}_duplicate", f"repeats accepted record {found[1]}")
        return rec

    def _repeat(self, index: Any, text: str, vec: Any) -> tuple[str, str] | None:
        """(kind, "#n (how alike): text") when `index` holds a copy of `text`, else None."""
        hit = index.find(text, vector=vec)
        if not hit:
            return None
        kind = "exact" if index._find_exact(text) else _KIND[self.method]
        how = "identical after normalization" if kind == "exact" else f"{self._measure()} {hit.similarity:.2f}"
        return kind, f"#{hit.key + 1} ({how}): {_short(hit.text)!r}"

    def commit(self, rec: Record) -> None:
        self.index.add(record_text(rec.data, self.fields))


def build(config: Any, base_dir: Path) -> DedupGate:
    """quality.GATES entry for `gate: dedup`."""
    embedder = None
    if config.method == "semantic":
        from .embeddings import make_embedder

        embedder = make_embedder(config.embedding)
    reference = load_reference_texts(config.reference, config.reference_field or config.fields, Path(base_dir)) \
        if config.reference else []
    return DedupGate(config.method, config.effective_threshold() if config.method != "exact" else None, config.fields,
                     reference=reference, ngram=config.ngram, unit=config.unit, num_perm=config.num_perm,
                     backend=config.backend, embedder=embedder)
