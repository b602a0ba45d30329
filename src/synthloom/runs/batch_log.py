"""The batch-API log in the run store: every provider batch and its requests, written the moment they exist.

Tables (in the run's store.sqlite, beside the call cache):
  batches      one row per batch: our id, the model, the stage it reached, the provider's file and
               batch ids, its status, counts and expiry
  batch_items  the requests of a batch: custom_id (the call's cache key), the request, its outcome

Stages of a batch, each written before the next step starts:
  prepared   its requests are chosen; nothing has left this machine
  uploaded   the provider holds its input file (OpenAI) / a create is under way (Anthropic)
  submitted  the provider's batch id is known: it is polled until it ends
  collected  its results are in the call cache (one transaction with this stage)
  abandoned  it never reached the provider (a crash before its create): its requests are asked again
A resume finds every batch short of `collected`/`abandoned` and carries it on from its stage, so
no request is submitted twice and no answered one is lost (llm/batch_llm.py).
"""
from __future__ import annotations

import time
from typing import Any, Iterable

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
  local_id TEXT PRIMARY KEY, run_id TEXT, model TEXT NOT NULL, api TEXT NOT NULL, state TEXT NOT NULL,
  file_id TEXT, batch_id TEXT, provider_status TEXT, n INTEGER, bytes INTEGER, counts BLOB,
  expires_at REAL, created REAL, updated REAL, note TEXT);
CREATE INDEX IF NOT EXISTS batches_model ON batches (model, state);
CREATE TABLE IF NOT EXISTS batch_items (
  local_id TEXT NOT NULL, custom_id TEXT NOT NULL, purpose TEXT, request BLOB NOT NULL,
  outcome TEXT, reason TEXT, PRIMARY KEY (local_id, custom_id));
"""
OPEN_STATES = ("prepared", "uploaded", "submitted")
_FIELDS = ("local_id", "run_id", "model", "api", "state", "file_id", "batch_id", "provider_status", "n", "bytes",
           "counts", "expires_at", "created", "updated", "note")


class BatchLog:
    """The batch tables of one run store (created on first use)."""

    def __init__(self, store: Any) -> None:  # a RunStore (runs/store.py, which reads this module)
        self.store = store
        self._db = store._db
        self._db.executescript(_SCHEMA)

    def prepare(self, local_id: str, run_id: str | None, model: str, api: str,
                items: list[tuple[str, str, bytes]], nbytes: int) -> None:
        """A new batch and its requests (custom_id, purpose, request JSON), in one transaction."""
        now = time.time()
        with self.store._tx():
            self._db.execute("INSERT INTO batches (local_id, run_id, model, api, state, n, bytes, created, updated)"
                             " VALUES (?,?,?,?,'prepared',?,?,?,?)",
                             (local_id, run_id, model, api, len(items), nbytes, now, now))
            self._db.executemany("INSERT INTO batch_items (local_id, custom_id, purpose, request) VALUES (?,?,?,?)",
                                 [(local_id, c, p, r) for c, p, r in items])

    def update(self, local_id: str, **fields: Any) -> None:
        """Set the stage and/or what the provider told (file_id, batch_id, provider_status, counts, expires_at, note)."""
        if "counts" in fields:
            fields["counts"] = orjson.dumps(fields["counts"])
        cols = ", ".join(f"{k}=?" for k in fields)
        self._db.execute(f"UPDATE batches SET {cols}, updated=? WHERE local_id=?",
                         (*fields.values(), time.time(), local_id))

    def open_batches(self, model: str) -> list[dict[str, Any]]:
        """Batches of `model` short of collected/abandoned, oldest first."""
        rows = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM batches WHERE model=? AND state IN "
                                f"({','.join('?' * len(OPEN_STATES))}) ORDER BY created", (model, *OPEN_STATES))
        return [self._row(r) for r in rows]

    def adopted_batch_ids(self, model: str) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT batch_id FROM batches WHERE model=? AND batch_id IS NOT NULL",
                                               (model,))}

    def items(self, local_id: str) -> list[tuple[str, str, bytes]]:
        """(custom_id, purpose, request JSON) of a batch."""
        return list(self._db.execute("SELECT custom_id, purpose, request FROM batch_items WHERE local_id=?",
                                     (local_id,)))

    def collect(self, local_id: str, calls: list[tuple[str, str, str, bytes, int, int, float]],
                outcomes: Iterable[tuple[str, str, str]], **fields: Any) -> None:
        """The batch's answers into the call cache, each item's outcome (custom_id, outcome, reason) and the
        stage `collected`: one transaction, so a crash half-way through leaves the batch to be collected again."""
        now = time.time()
        with self.store._tx():
            if calls:
                self._db.executemany(
                    "INSERT OR REPLACE INTO calls (key, model, purpose, result, prompt_tokens, completion_tokens,"
                    " latency_s, created) VALUES (?,?,?,?,?,?,?,?)", [(*r, now) for r in calls])
            self._db.executemany("UPDATE batch_items SET outcome=?, reason=? WHERE local_id=? AND custom_id=?",
                                 [(o, r, local_id, c) for c, o, r in outcomes])
            if "counts" in fields:
                fields["counts"] = orjson.dumps(fields["counts"])
            cols = "".join(f", {k}=?" for k in fields)
            self._db.execute(f"UPDATE batches SET state='collected'{cols}, updated=? WHERE local_id=?",
                             (*fields.values(), now, local_id))

    def batches(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Every batch (of `run_id`, or of the file), oldest first."""
        q = f"SELECT {', '.join(_FIELDS)} FROM batches" + (" WHERE run_id=?" if run_id else "") + " ORDER BY created"
        return [self._row(r) for r in self._db.execute(q, (run_id,) if run_id else ())]

    def retried(self, run_id: str | None = None) -> dict[str, int]:
        """reason -> requests that came back without an answer (failed, expired, cancelled, unreadable) and were
        asked again in a later batch or live."""
        q = ("SELECT i.reason, COUNT(*) FROM batch_items i JOIN batches b ON b.local_id=i.local_id"
             " WHERE i.outcome='retry'" + (" AND b.run_id=?" if run_id else "") + " GROUP BY i.reason")
        return {r: n for r, n in self._db.execute(q, (run_id,) if run_id else ())}

    def summary(self, run_id: str | None = None) -> dict[str, Any]:
        """For the manifest, the report and `synthloom status`: batches by stage, requests, retries by reason."""
        rows = self.batches(run_id)
        by_state: dict[str, int] = {}
        for b in rows:
            by_state[b["state"]] = by_state.get(b["state"], 0) + 1
        return {"batches": len(rows), "by_state": by_state, "requests": sum(b["n"] or 0 for b in rows),
                "in_flight": [b for b in rows if b["state"] in OPEN_STATES], "retried": self.retried(run_id)}

    @staticmethod
    def _row(r: tuple) -> dict[str, Any]:
        d = dict(zip(_FIELDS, r))
        d["counts"] = orjson.loads(d["counts"]) if d["counts"] else {}
        return d


def has_batches(store: Any) -> bool:
    return store._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='batches'").fetchone() is not None
