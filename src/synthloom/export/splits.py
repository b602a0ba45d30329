"""Seeded train / validation / test splits that never split near-duplicates, in fixed memory.

Rows are first grouped: a row whose prompt text (instruction + input) equals an earlier row's after
normalisation, or has ROUGE-L F above `near_duplicate` with one, joins that row's group, transitively.
Candidates come from MinHash LSH over each text's set of words, banded for the word-set Jaccard that a
ROUGE-L F at the threshold allows (t / (2 - t)), and each candidate is confirmed with its exact ROUGE-L F.
A band bucket remembers its latest four texts, so a row is compared with at most four earlier texts per
band: the grouping misses a near copy when no band matches (rare above the threshold) or when four other
texts have entered each of its shared buckets since (texts from a small vocabulary, templates).

Groups, not rows, are then dealt to splits, so a near-copy of a test question can never sit in train.
Each group goes, biggest first and otherwise in a seeded pseudo-random order (a hash of the seed and the
group), to the split furthest below its share, so singleton groups land within one row of the ratios.
With `stratify`, groups are dealt within each value of that field (a group's value is its first row's),
so every split keeps the field's proportions as closely as whole groups allow.

`SplitPlan` does this as a stream: `add` each row's text and stratum in order, `deal`, then read the
split of each row in the same order. What it keeps lives in a temporary SQLite file (deleted on close):
memory holds SQLite's page cache, one chunk of rows, a counter per stratum and split and one entry per
merge of two groups (a row close to two groups that were not close to each other).
"""
from __future__ import annotations

import hashlib
from array import array
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import UsageError
from ..quality.rouge import f_measure, lcs_length, tokenize
from ..runs.scratch import scratch_db

SPLIT_NAMES = ("train", "validation", "test")
CHUNK = 2048  # rows planned at once
NUM_PERM = 48  # MinHash permutations of the candidate search: 16 bands of 3 rows at the default threshold
BUCKET = 4  # the latest texts an LSH band bucket remembers


def parse_ratios(text: str | Sequence[float]) -> dict[str, float]:
    """'0.8,0.1,0.1' -> {train: .8, validation: .1, test: .1}; one value: train only; two: train, validation."""
    try:
        vals = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise UsageError(f"--split {text!r}: give fractions separated by commas, e.g. 0.8,0.1,0.1") from None
    if not 1 <= len(vals) <= 3 or any(v < 0 for v in vals):
        raise UsageError(f"--split {text!r}: give 1 to 3 non-negative fractions (train,validation,test), e.g. 0.8,0.1,0.1")
    if abs(sum(vals) - 1.0) > 1e-6:
        raise UsageError(f"--split {text!r}: the fractions add up to {sum(vals):g}, they must add up to 1")
    return {name: v for name, v in zip(SPLIT_NAMES, vals) if v > 0}


def default_text(row: Any) -> str:
    """The prompt side of a record: what two near-duplicate rows share."""
    if not isinstance(row, dict):  # an array or string record: its JSON
        from ..quality.text import record_text

        return record_text(row)
    # text: labelled rows; request: tool-calling rows
    inst = row.get("instruction", row.get("prompt", row.get("question", row.get("text", row.get("request", "")))))
    if inst == "" and "messages" in row:
        inst = " ".join(m.get("content", "") for m in row["messages"] if m.get("role") == "user")
    return f"{inst} {row.get('input', '') or ''}".strip()


def _mix(seed: int, root: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{root}".encode(), digest_size=8).digest(), "little", signed=True)


def _in_chunks(db: sqlite3.Connection, sql: str, keys: list[Any], size: int = 500) -> Iterator[tuple]:
    """Rows of `sql` (with one `{}` for a list of placeholders) for every key, `size` keys a query. Small and
    mostly of one size: SQLite keeps each prepared statement, and one with 30,000 placeholders holds megabytes."""
    for i in range(0, len(keys), size):
        part = keys[i:i + size]
        yield from db.execute(sql.format(",".join("?" * len(part))), part)


class SplitPlan:
    """Deal rows to splits in order, in fixed memory: add() every row, deal(), then splits()."""

    def __init__(self, ratios: dict[str, float] | str, seed: int = 0, near_duplicate: float = 0.7) -> None:
        self.ratios = parse_ratios(ratios) if isinstance(ratios, str) else dict(ratios)
        self.names = list(self.ratios)
        self.seed, self.threshold = seed, near_duplicate
        self.db = scratch_db(
            8192,
            "CREATE TABLE rec (seq INTEGER PRIMARY KEY, grp INTEGER NOT NULL, stratum INTEGER NOT NULL);"
            "CREATE TABLE txt (seq INTEGER PRIMARY KEY, text TEXT NOT NULL);"
            "CREATE TABLE ex (h BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE band (h INTEGER PRIMARY KEY, seqs BLOB NOT NULL);"
            "CREATE TABLE asg (root INTEGER PRIMARY KEY, split INTEGER NOT NULL);",
            cached_statements=32)
        self.strata: dict[str, int] = {}
        self.merged: dict[int, int] = {}  # a group root -> the root it joined
        self.pending: list[tuple[str, int]] = []
        self.n = 0
        self.counts: dict[str, int] = {}
        self._signer = None
        if near_duplicate < 1:
            from ..quality.minhash import lsh_params, make_signer

            self._signer = make_signer("auto", NUM_PERM)
            self._bands, self._rows = lsh_params(round(near_duplicate / (2 - near_duplicate), 3), NUM_PERM)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "SplitPlan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, text: str, stratum: Any = None) -> None:
        key = repr(stratum)
        sid = self.strata.setdefault(key, len(self.strata))
        self.pending.append((text, sid))
        if len(self.pending) >= CHUNK:
            self._flush()

    def _root(self, g: int) -> int:
        while g in self.merged:
            g = self.merged[g]
        return g

    def _flush(self) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        base, self.n = self.n, self.n + len(rows)
        grp = list(range(base, base + len(rows)))
        if self._signer is None:  # no grouping: every row alone
            self._write(rows, grp, [], {}, {})
            return
        norms = [" ".join(t.lower().split()) for t, _ in rows]
        keys = [hashlib.blake2b(s.encode("utf-8"), digest_size=16).digest() for s in norms]
        known = dict(_in_chunks(self.db, "SELECT h, seq FROM ex WHERE h IN ({})", list(set(keys))))
        new_keys: dict[bytes, int] = {}
        links: list[list[int]] = [[] for _ in rows]  # earlier rows each row is a near-duplicate of
        fresh: list[int] = []  # rows whose text is new: searched and indexed by LSH
        for i, k in enumerate(keys):
            twin = known.get(k, new_keys.get(k))
            if twin is None:
                new_keys[k] = base + i
                fresh.append(i)
            else:
                links[i].append(twin)
        toks = [tokenize(rows[i][0]) for i in fresh]
        bands: dict[int, int] = {}
        if fresh:
            from ..quality.minhash import band_hashes

            sigs = self._signer.sign_many([set(t) for t in toks])
            hashes = band_hashes(sigs, self._bands, self._rows).view(np.int64)
            flat = list({int(h) for h in hashes.ravel()})
            bands = {h: array("q", b).tolist()
                     for h, b in _in_chunks(self.db, "SELECT h, seqs FROM band WHERE h IN ({})", flat)}
            cands: list[set[int]] = []
            for j, i in enumerate(fresh):
                hs = hashes[j].tolist()
                cands.append({c for h in hs for c in bands.get(h, ())})
                for h in hs:
                    bucket = bands.setdefault(h, [])
                    bucket.append(base + i)
                    if len(bucket) > BUCKET:
                        del bucket[0]
            mine = dict(zip((base + i for i in fresh), toks))
            for j, i in enumerate(fresh):
                a = toks[j]
                # earlier chunks' texts, read for this row alone: memory holds one row's candidates at most
                older = [c for c in cands[j] if c < base]
                texts = {s: tokenize(t) for s, t in _in_chunks(self.db, "SELECT seq, text FROM txt WHERE seq IN ({})",
                                                               older)} if older else {}
                for c in cands[j]:
                    b = texts[c] if c < base else mine[c]
                    if f_measure(lcs_length(a, b), len(b), len(a)) > self.threshold:
                        links[i].append(c)
        old = sorted({c for ls in links for c in ls if c < base})
        groups = dict(_in_chunks(self.db, "SELECT seq, grp FROM rec WHERE seq IN ({})", old))
        for i, ls in enumerate(links):
            if not ls:
                continue
            roots = {self._root(groups[c] if c < base else grp[c - base]) for c in ls}
            root = min(roots)
            grp[i] = root
            for r in roots - {root}:
                self.merged[r] = root
        self._write(rows, grp, [(base + i, rows[i][0]) for i in fresh], new_keys, bands)

    def _write(self, rows: list[tuple[str, int]], grp: list[int], texts: list[tuple[int, str]],
               keys: dict[bytes, int], bands: dict[int, list[int]]) -> None:
        base = self.n - len(rows)
        db = self.db
        db.execute("BEGIN")
        db.executemany("INSERT INTO rec (seq, grp, stratum) VALUES (?,?,?)",
                       ((base + i, g, s) for i, ((_t, s), g) in enumerate(zip(rows, grp))))
        db.executemany("INSERT INTO txt (seq, text) VALUES (?,?)", texts)
        db.executemany("INSERT INTO ex (h, seq) VALUES (?,?)", keys.items())
        db.executemany("INSERT OR REPLACE INTO band (h, seqs) VALUES (?,?)",
                       ((h, array("q", v).tobytes()) for h, v in bands.items()))
        db.execute("COMMIT")

    def deal(self) -> dict[str, int]:
        """Assign every group to a split; returns {split: rows} (every named split, maybe 0)."""
        self._flush()
        db = self.db
        db.execute("BEGIN")
        if self.merged:
            db.execute("CREATE INDEX rec_grp ON rec (grp)")
            db.executemany("UPDATE rec SET grp=? WHERE grp=?", ((self._root(r), r) for r in self.merged))
        db.create_function("mix", 2, _mix, deterministic=True)
        db.execute("CREATE TABLE grp AS SELECT grp AS root, COUNT(*) AS size, mix(?, grp) AS k FROM rec GROUP BY grp",
                   (self.seed,))
        totals = dict(db.execute("SELECT r.stratum, SUM(g.size) FROM grp g JOIN rec r ON r.seq = g.root "
                                 "GROUP BY r.stratum"))
        names, ratios = self.names, self.ratios
        counts = {n: 0 for n in names}
        cur = db.execute("SELECT g.root, g.size, r.stratum FROM grp g JOIN rec r ON r.seq = g.root "
                         "ORDER BY r.stratum, g.size DESC, g.k")
        stratum, have, target, batch = None, {}, {}, []
        for root, size, s in cur:
            if s != stratum:
                stratum, have = s, {n: 0 for n in names}
                target = {n: ratios[n] * totals[s] for n in names}
            n = max(names, key=lambda x: (target[x] - have[x], ratios[x]))
            have[n] += size
            counts[n] += size
            batch.append((root, names.index(n)))
            if len(batch) >= CHUNK:  # written as it goes: one list of every group held ~100 bytes a group
                db.executemany("INSERT INTO asg (root, split) VALUES (?,?)", batch)
                batch = []
        db.executemany("INSERT INTO asg (root, split) VALUES (?,?)", batch)
        db.execute("COMMIT")
        self.counts = counts
        return dict(counts)

    def splits(self) -> Iterator[str]:
        """Each row's split name, in the order the rows were added."""
        names = self.names
        for (s,) in self.db.execute("SELECT a.split FROM rec r JOIN asg a ON a.root = r.grp ORDER BY r.seq"):
            yield names[s]

    def groups(self) -> list[list[int]]:
        """Row indices grouped (after deal), in first-seen order."""
        out: dict[int, list[int]] = {}
        for seq, g in self.db.execute("SELECT seq, grp FROM rec ORDER BY seq"):
            out.setdefault(g, []).append(seq)
        return list(out.values())


def near_duplicate_groups(texts: Sequence[str], threshold: float = 0.7) -> list[list[int]]:
    """Indices grouped by ROUGE-L F > threshold or equal normalised text (transitively), in first-seen order."""
    with SplitPlan({"train": 1.0}, near_duplicate=threshold) as plan:
        for t in texts:
            plan.add(t)
        plan.deal()
        return plan.groups()


def write_split_jsonl(out: Path, files: dict[str, str], items: Iterable[tuple[str, Iterable[Any]]]) -> dict[str, int]:
    """Each item's JSON lines to its split's file under `out` (`files`: split -> file name), in one pass;
    every file appears at the end, or none does. Returns the lines written per split."""
    from contextlib import ExitStack

    from ..records import dumps
    from ..userfiles import atomic_path

    counts = dict.fromkeys(files, 0)
    with ExitStack() as stack:
        fhs = {name: stack.enter_context(open(stack.enter_context(atomic_path(out / f)), "wb"))
               for name, f in files.items()}
        for name, lines in items:
            fh = fhs[name]
            for line in lines:
                fh.write(dumps(line) + b"\n")
                counts[name] += 1
    return counts


def stratum_values(rows: Sequence[Any], stratify: str | Sequence[Any] | None) -> list[Any] | None:
    if isinstance(stratify, str):
        if rows and not any(isinstance(r, dict) and stratify in r for r in rows):
            first = rows[0] if isinstance(rows[0], dict) else {}
            raise UsageError(f"--stratify {stratify!r}: no record has this field (fields: {', '.join(sorted(first))})")
        return [r.get(stratify) if isinstance(r, dict) else None for r in rows]
    if stratify is not None:
        values = list(stratify)
        if len(values) != len(rows):
            raise ValueError("stratify: one value per row is needed")
        return values
    return None


def split_rows(
    rows: Sequence[dict[str, Any]],
    ratios: dict[str, float] | str = "0.8,0.1,0.1",
    seed: int = 0,
    stratify: str | Sequence[Any] | None = None,
    near_duplicate: float = 0.7,
    text_of: Callable[[dict[str, Any]], str] = default_text,
) -> dict[str, list[dict[str, Any]]]:
    """Deal rows (a list) to splits; returns {split name: rows} with every named split present (maybe empty).

    `stratify` is a field name, or a sequence with one stratum value per row
    (e.g. a lineage value such as the evolution round).
    """
    values = stratum_values(rows, stratify)
    with SplitPlan(ratios, seed, near_duplicate) as plan:
        for i, r in enumerate(rows):
            plan.add(text_of(r), None if values is None else values[i])
        plan.deal()
        out: dict[str, list[dict[str, Any]]] = {n: [] for n in plan.names}
        for r, name in zip(rows, plan.splits()):
            out[name].append(r)
        return out
