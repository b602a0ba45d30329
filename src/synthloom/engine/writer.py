"""Group commit: finished calls and slots are written in one transaction per turn of the event loop.

At high concurrency many slots finish in the same loop turn; writing each in
its own transaction costs most of the engine's time. The writer queues them and
flushes once the current turn is done (`loop.call_soon`), so a batch holds
whatever finished together, and a quiet run (one slot a second on a local model)
still writes each slot at once. A crash loses what finished in the current turn
at most — calls that were, for practical purposes, still in flight.
"""
from __future__ import annotations

import asyncio

from ..records import Record, Rejection
from ..runs.store import RunStore


class BatchWriter:
    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.pending_calls: dict[str, tuple] = {}
        self.pending_slots: list[tuple[int, list[Record], list[Rejection]]] = []
        self.usage: dict[tuple[str, str], list[int]] = {}
        self._scheduled = False

    def add_calls(self, rows: list[tuple]) -> None:
        for row in rows:
            self.pending_calls[row[0]] = row
        self._schedule()

    def add_slot(self, slot: int, accepted: list[Record], rejected: list[Rejection],
                 usage: dict[tuple[str, str], list[int]]) -> None:
        self.pending_slots.append((slot, accepted, rejected))
        for k, v in usage.items():
            row = self.usage.setdefault(k, [0, 0, 0, 0, 0])
            for i, x in enumerate(v):
                row[i] += x
        self._schedule()

    def add_usage(self, usage: dict[tuple[str, str], list[int]]) -> None:
        for k, v in usage.items():
            row = self.usage.setdefault(k, [0, 0, 0, 0, 0])
            for i, x in enumerate(v):
                row[i] += x

    MAX_PENDING = 512  # bound memory and loss when slots finish without yielding to the loop

    def _schedule(self) -> None:
        if len(self.pending_slots) + len(self.pending_calls) >= self.MAX_PENDING:
            self.flush()
            return
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop: write now
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if not (self.pending_calls or self.pending_slots or self.usage):
            return
        calls, slots, usage = list(self.pending_calls.values()), self.pending_slots, self.usage
        self.pending_calls, self.pending_slots, self.usage = {}, [], {}
        self.store.commit_batch(self.run_id, calls, slots, usage)
