"""The run store: one SQLite file per run directory.

Tables:
  calls       content-addressed call cache: key -> result (shared by every run in the file)
  runs        one row per recipe identity (run_id): the recipe, status, timings
  slots       which slots (candidate attempts) of a run are finished
  records     accepted records with their lineage, in acceptance order
  rejections  rejected candidates with stage, reason and detail
  usage       calls, cache hits and tokens per run, model and purpose
  verdicts    human spot-check verdicts (accept/reject/skip) per accepted record id or `rej-<seq>`

Every slot is committed in one transaction (its records, its rejections, its
slot row), so a crash loses at most the slots in flight; their finished calls
are already in `calls` and replay from there on the next run.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import StoreError
from ..records import Record, Rejection, dumps, loads
from ..userfiles import ensure_folder
from .funnel import funnel_counts

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
  key TEXT PRIMARY KEY, model TEXT NOT NULL, purpose TEXT, result BLOB NOT NULL,
  prompt_tokens INTEGER, completion_tokens INTEGER, latency_s REAL, created REAL);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, name TEXT, recipe BLOB, created REAL, updated REAL,
  status TEXT, wall_s REAL DEFAULT 0, versions BLOB);
CREATE TABLE IF NOT EXISTS slots (
  run_id TEXT NOT NULL, slot INTEGER NOT NULL, status TEXT NOT NULL, PRIMARY KEY (run_id, slot));
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, record_id TEXT NOT NULL,
  slot INTEGER, data BLOB NOT NULL, meta BLOB NOT NULL, created REAL);
CREATE INDEX IF NOT EXISTS records_run ON records (run_id, seq);
CREATE TABLE IF NOT EXISTS rejections (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, slot INTEGER,
  stage TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT, data BLOB, raw TEXT, meta BLOB, created REAL);
CREATE INDEX IF NOT EXISTS rejections_run ON rejections (run_id, stage, reason);
CREATE TABLE IF NOT EXISTS usage (
  run_id TEXT NOT NULL, model TEXT NOT NULL, purpose TEXT NOT NULL,
  calls INTEGER DEFAULT 0, cache_hits INTEGER DEFAULT 0,
  prompt_tokens INTEGER DEFAULT 0, completion_tokens INTEGER DEFAULT 0,
  cached_prompt_tokens INTEGER DEFAULT 0,
  PRIMARY KEY (run_id, model, purpose));
CREATE TABLE IF NOT EXISTS verdicts (
  run_id TEXT NOT NULL, item_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT, note TEXT, updated REAL,
  PRIMARY KEY (run_id, item_id));
"""

_dumps = dumps


def _loads(b: bytes | str | None) -> Any:
    return None if b is None else loads(b)


def _sample(items: Iterator[Any], total: int, limit: int, seed: int) -> list[Any]:
    if total <= limit:
        return list(items)
    import random

    keep = set(random.Random(seed).sample(range(total), limit))
    return [x for i, x in enumerate(items) if i in keep]


class RunStore:
    """SQLite run store. Not thread-safe: use it from the event loop's thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        ensure_folder(self.path.parent, "run folder")
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            if "cached_prompt_tokens" not in {r[1] for r in self._db.execute("PRAGMA table_info(usage)")}:
                self._db.execute("ALTER TABLE usage ADD COLUMN cached_prompt_tokens INTEGER DEFAULT 0")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path}: cannot open the run store ({exc}); "
                "remove the run directory to start over, or point -o somewhere else"
            ) from exc

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def begin_run(self, run_id: str, name: str, recipe: dict[str, Any], versions: dict[str, str]) -> bool:
        """Register a run; returns True when it already existed (a resume)."""
        now = time.time()
        row = self._db.execute("SELECT run_id FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row:
            self._db.execute(
                "UPDATE runs SET status='running', updated=?, recipe=?, versions=? WHERE run_id=?",
                (now, _dumps(recipe), _dumps(versions), run_id),
            )
            return True
        self._db.execute(
            "INSERT INTO runs (run_id, name, recipe, created, updated, status, versions) VALUES (?,?,?,?,?,?,?)",
            (run_id, name, _dumps(recipe), now, now, "running", _dumps(versions)),
        )
        return False

    def end_run(self, run_id: str, status: str, wall_s: float) -> None:
        self._db.execute(
            "UPDATE runs SET status=?, updated=?, wall_s=wall_s+? WHERE run_id=?",
            (status, time.time(), wall_s, run_id),
        )

    def latest_run_id(self) -> str | None:
        row = self._db.execute("SELECT run_id FROM runs ORDER BY updated DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def runs(self) -> list[tuple[str, dict[str, Any]]]:
        """(run_id, recipe) of every run in the file, most recently updated first."""
        rows = self._db.execute("SELECT run_id, recipe FROM runs ORDER BY updated DESC").fetchall()
        return [(run_id, _loads(recipe) or {}) for run_id, recipe in rows]

    def run_info(self, run_id: str | None = None) -> dict[str, Any]:
        run_id = run_id or self.latest_run_id()
        row = self._db.execute(
            "SELECT run_id, name, recipe, created, updated, status, wall_s, versions FROM runs WHERE run_id=?",
            (run_id,),
        ).fetchone()
        if not row:
            raise StoreError(f"{self.path}: no run recorded here yet; run a recipe with this output first")
        keys = ("run_id", "name", "recipe", "created", "updated", "status", "wall_s", "versions")
        info = dict(zip(keys, row))
        info["recipe"], info["versions"] = _loads(info["recipe"]), _loads(info["versions"])
        return info

    # -- call cache ----------------------------------------------------------
    def get_calls(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = f"SELECT key, result FROM calls WHERE key IN ({','.join('?' * len(chunk))})"
            for key, result in self._db.execute(q, chunk):
                out[key] = loads(result)
        return out

    def put_calls(self, rows: Iterable[tuple[str, str, str, bytes, int, int, float]]) -> None:
        """rows: (key, model, purpose, result_json, prompt_tokens, completion_tokens, latency_s)."""
        now = time.time()
        with self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO calls (key, model, purpose, result, prompt_tokens, completion_tokens,"
                " latency_s, created) VALUES (?,?,?,?,?,?,?,?)",
                [(*r, now) for r in rows],
            )

    def call_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    # -- slots, records, rejections -----------------------------------------
    def done_bitmap(self, run_id: str, size: int) -> tuple[bytearray, int]:
        """(one bit per slot below `size`, set when the slot is done; how many slots are done in all): the
        finished slots of a resumed run in size/8 bytes, where a set of a million ints takes ~60 MB."""
        bits = bytearray((size + 7) // 8)
        n = 0
        for (slot,) in self._db.execute("SELECT slot FROM slots WHERE run_id=?", (run_id,)):
            n += 1
            if 0 <= slot < size:
                bits[slot >> 3] |= 1 << (slot & 7)
        return bits, n

    def done_slots(self, run_id: str) -> set[int]:
        return {r[0] for r in self._db.execute("SELECT slot FROM slots WHERE run_id=?", (run_id,))}

    def commit_batch(
        self,
        run_id: str,
        calls: list[tuple[str, str, str, bytes, int, int, float]],
        slots: list[tuple[int, list[Record], list[Rejection]]],
        usage: dict[tuple[str, str], list[int]],
    ) -> None:
        """One transaction for finished calls and finished slots (group commit).

        A slot's records, rejections and done mark land together or not at all,
        and never before the calls they were made from.
        """
        now = time.time()
        with self._tx():
            if calls:
                self._db.executemany(
                    "INSERT OR REPLACE INTO calls (key, model, purpose, result, prompt_tokens, completion_tokens,"
                    " latency_s, created) VALUES (?,?,?,?,?,?,?,?)",
                    [(*r, now) for r in calls],
                )
            recs = [(run_id, r.id, slot, _dumps(r.data), _dumps(r.meta), now) for slot, acc, _ in slots for r in acc]
            if recs:
                self._db.executemany(
                    "INSERT INTO records (run_id, record_id, slot, data, meta, created) VALUES (?,?,?,?,?,?)", recs
                )
            rejs = [
                (run_id, slot, r.stage, r.reason, r.detail, None if r.data is None else _dumps(r.data), r.raw,
                 _dumps(r.meta), now)
                for slot, _, rej in slots for r in rej
            ]
            if rejs:
                self._db.executemany(
                    "INSERT INTO rejections (run_id, slot, stage, reason, detail, data, raw, meta, created)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    rejs,
                )
            if usage:
                self._add_usage(run_id, usage)
            if slots:
                self._db.executemany(
                    "INSERT OR REPLACE INTO slots (run_id, slot, status) VALUES (?,?,'done')",
                    [(run_id, slot) for slot, _, _ in slots],
                )

    def add_usage(self, run_id: str, usage: dict[tuple[str, str], list[int]]) -> None:
        with self._tx():
            self._add_usage(run_id, usage)

    def _add_usage(self, run_id: str, usage: dict[tuple[str, str], list[int]]) -> None:
        self._db.executemany(
            "INSERT INTO usage (run_id, model, purpose, calls, cache_hits, prompt_tokens, completion_tokens,"
            " cached_prompt_tokens) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (run_id, model, purpose) DO UPDATE SET"
            " calls=calls+excluded.calls, cache_hits=cache_hits+excluded.cache_hits,"
            " prompt_tokens=prompt_tokens+excluded.prompt_tokens,"
            " completion_tokens=completion_tokens+excluded.completion_tokens,"
            " cached_prompt_tokens=cached_prompt_tokens+excluded.cached_prompt_tokens",
            [(run_id, m, p, *v, *(0,) * (5 - len(v))) for (m, p), v in usage.items()],
        )

    def accepted_records(self, run_id: str | None = None) -> list[Record]:
        run_id = run_id or self.latest_run_id()
        return [
            Record(data=loads(d), meta=loads(m))
            for d, m in self._db.execute("SELECT data, meta FROM records WHERE run_id=? ORDER BY seq", (run_id,))
        ]

    def iter_accepted(self, run_id: str | None = None) -> Iterator[Record]:
        run_id = run_id or self.latest_run_id()
        cur = self._db.execute("SELECT data, meta FROM records WHERE run_id=? ORDER BY seq", (run_id,))
        for d, m in cur:
            yield Record(data=loads(d), meta=loads(m))

    def iter_by_slot(self, run_id: str) -> Iterator[tuple[int, int, Record]]:
        """(slot, seq, record) of the accepted records in slot order, then acceptance order within a slot."""
        cur = self._db.execute("SELECT slot, seq, data, meta FROM records WHERE run_id=? ORDER BY slot, seq", (run_id,))
        for slot, seq, d, m in cur:
            yield slot, seq, Record(data=loads(d), meta=loads(m))

    def import_run(self, src: "RunStore", src_run_id: str, run_id: str) -> None:
        """Another store's rejections, usage and done slots of one run into `run_id` here, in one transaction
        (a shard into its merged run; the records go through the merge's gates, the call cache stays)."""
        usage = {(u["model"], u["purpose"]): [u["calls"], u["cache_hits"], u["prompt_tokens"], u["completion_tokens"],
                                               u["cached_prompt_tokens"]] for u in src.usage(src_run_id)}
        with self._tx():
            self._db.executemany(
                "INSERT INTO rejections (run_id, slot, stage, reason, detail, data, raw, meta, created)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                ((run_id, *row) for row in src._db.execute(
                    "SELECT slot, stage, reason, detail, data, raw, meta, created FROM rejections"
                    " WHERE run_id=? ORDER BY seq", (src_run_id,))))
            if usage:
                self._add_usage(run_id, usage)
            self._db.executemany("INSERT OR REPLACE INTO slots (run_id, slot, status) VALUES (?,?,'done')",
                                 ((run_id, s) for (s,) in src._db.execute("SELECT slot FROM slots WHERE run_id=?",
                                                                          (src_run_id,))))

    def sample_accepted(self, run_id: str, limit: int, seed: int = 0) -> list[Record]:
        """Every accepted record when there are at most `limit`, else a uniform sample of `limit` of them
        (in acceptance order): what a report reads of a run of any size, in bounded memory."""
        return _sample(self.iter_accepted(run_id), self.accepted_count(run_id), limit, seed)

    def sample_rejections(self, run_id: str, limit: int, seed: int = 0) -> list[Rejection]:
        """The same for the rejected candidates."""
        total = sum(n for _s, _r, n in self.rejection_counts(run_id))
        return _sample(self.rejections(run_id), total, limit, seed)

    def accepted_count(self, run_id: str | None = None) -> int:
        run_id = run_id or self.latest_run_id()
        return self._db.execute("SELECT COUNT(*) FROM records WHERE run_id=?", (run_id,)).fetchone()[0]

    def rejections(self, run_id: str | None = None) -> Iterator[Rejection]:
        run_id = run_id or self.latest_run_id()
        cur = self._db.execute(
            "SELECT stage, reason, detail, data, raw, meta FROM rejections WHERE run_id=? ORDER BY seq", (run_id,)
        )
        for stage, reason, detail, data, raw, meta in cur:
            yield Rejection(stage=stage, reason=reason, detail=detail or "", data=_loads(data), raw=raw,
                            meta=_loads(meta) or {})

    def rejection_counts(self, run_id: str | None = None) -> list[tuple[str, str, int]]:
        """(stage, reason, count), most frequent first."""
        run_id = run_id or self.latest_run_id()
        return list(self._db.execute(
            "SELECT stage, reason, COUNT(*) c FROM rejections WHERE run_id=? GROUP BY stage, reason ORDER BY c DESC",
            (run_id,),
        ))

    def funnel(self, run_id: str | None = None) -> dict[str, int]:
        """generated -> parsed -> valid -> ... -> accepted, from the stored counts (see `runs.funnel`)."""
        run_id = run_id or self.latest_run_id()
        return funnel_counts(self.rejection_counts(run_id), self.accepted_count(run_id))

    def usage(self, run_id: str | None = None) -> list[dict[str, Any]]:
        run_id = run_id or self.latest_run_id()
        keys = ("model", "purpose", "calls", "cache_hits", "prompt_tokens", "completion_tokens", "cached_prompt_tokens")
        return [
            dict(zip(keys, r))
            for r in self._db.execute(
                "SELECT model, purpose, calls, cache_hits, prompt_tokens, completion_tokens, cached_prompt_tokens"
                " FROM usage"
                " WHERE run_id=? ORDER BY model, purpose",
                (run_id,),
            )
        ]

    def manifest(self, run_id: str | None = None) -> dict[str, Any]:
        info = self.run_info(run_id)
        rid = info["run_id"]
        usage = self.usage(rid)
        from .batch_log import BatchLog, has_batches

        batches = BatchLog(self).summary(rid) if has_batches(self) else None
        return {
            "run_id": rid,
            "name": info["name"],
            "status": info["status"],
            "created": info["created"],
            "updated": info["updated"],
            "wall_s": round(info["wall_s"] or 0.0, 3),
            "versions": info["versions"],
            "recipe": info["recipe"],
            "counts": {
                "accepted": self.accepted_count(rid),
                "rejected": sum(n for s, _r, n in self.rejection_counts(rid) if s != "surplus"),
                "slots_done": self._db.execute("SELECT COUNT(*) FROM slots WHERE run_id=?", (rid,)).fetchone()[0],
            },
            "funnel": self.funnel(rid),
            "rejections": [{"stage": s, "reason": r, "count": n} for s, r, n in self.rejection_counts(rid)],
            "usage": usage,
            "tokens": {
                "prompt": sum(u["prompt_tokens"] for u in usage),
                "completion": sum(u["completion_tokens"] for u in usage),
                "calls": sum(u["calls"] for u in usage),
                "cache_hits": sum(u["cache_hits"] for u in usage),
            },
            **({"batches": batches} if batches and batches["batches"] else {}),  # batch_api: runs/batch_log.py
        }

    # -- human verdicts (synthloom review) -------------------------------------
    def rejected_items(self, run_id: str | None = None) -> list[tuple[int, Rejection]]:
        """(seq, rejection) for rejected candidates that carry data: what a reviewer can look at."""
        run_id = run_id or self.latest_run_id()
        cur = self._db.execute("SELECT seq, stage, reason, detail, data, raw, meta FROM rejections"
                               " WHERE run_id=? AND data IS NOT NULL AND stage != 'surplus' ORDER BY seq", (run_id,))
        return [(seq, Rejection(stage=st, reason=r, detail=d or "", data=_loads(data), raw=raw, meta=_loads(m) or {}))
                for seq, st, r, d, data, raw, m in cur]

    def save_verdict(self, run_id: str, item_id: str, verdict: str, reason: str = "", note: str = "") -> None:
        self._db.execute(
            "INSERT INTO verdicts (run_id, item_id, verdict, reason, note, updated) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (run_id, item_id) DO UPDATE SET verdict=excluded.verdict, reason=excluded.reason,"
            " note=excluded.note, updated=excluded.updated",
            (run_id, item_id, verdict, reason, note, time.time()),
        )

    def verdicts(self, run_id: str | None = None) -> dict[str, dict[str, Any]]:
        """item id -> {verdict, reason, note, updated}, oldest change first."""
        run_id = run_id or self.latest_run_id()
        cur = self._db.execute("SELECT item_id, verdict, reason, note, updated FROM verdicts WHERE run_id=?"
                               " ORDER BY updated", (run_id,))
        return {i: {"verdict": v, "reason": r or "", "note": n or "", "updated": u} for i, v, r, n, u in cur}

    # -- helpers ---------------------------------------------------------------
    def _tx(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN")

            def __exit__(self_inner, exc_type, exc, tb):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

