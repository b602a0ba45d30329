"""A run against a target endpoint, one slot per item: the shared part of `synthloom redteam` and
`synthloom simulate`.

The run's id is the hash of its identity (the items, the target, the grader's model, the settings), so
the same command resumes it: every call goes through the run store's call cache, each finished item is
committed as one slot, and a finished run replays at once.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from ..records import Record, content_hash
from ..runs import RunStore
from .cache import CachedLLM, UsageMeter
from .writer import BatchWriter


class TargetRun:
    """The store, the usage meter and the cached models of one run; `slots` runs the items."""

    def __init__(self, store_path: Path, kind: str, prefix: str, ident: dict[str, Any], settings: dict[str, Any],
                 *llms: Any) -> None:
        self.kind = kind
        self.run_id = prefix + content_hash(ident, 8)
        self.store_path = store_path
        self.store = RunStore(store_path)
        self.resumed = self.store.begin_run(self.run_id, kind, settings, {})
        self.meter, self.writer = UsageMeter(), BatchWriter(self.store, self.run_id)
        self.llms = [CachedLLM(llm, self.store, self.meter, self.writer) for llm in llms]

    async def slots(self, items: Iterable[int], total: int, concurrency: int,
                    one: Callable[[int], Awaitable[dict[str, Any]]],
                    on_progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
        """Run `one(i)` for each item not finished before, `concurrency` at a time, committing each row as
        slot i; close the store and return every row (old and new) in slot order."""
        done = self.store.done_slots(self.run_id)
        sem = asyncio.Semaphore(concurrency)
        finished = [len(done)]
        status = "failed"

        async def run_one(i: int) -> None:
            async with sem:
                row = await one(i)
                self.writer.add_slot(i, [Record(data=row, meta={"technique": self.kind, "slot": i})], [],
                                     self.meter.drain())
                finished[0] += 1
                if on_progress:
                    on_progress(finished[0], total)

        try:
            await asyncio.gather(*(run_one(i) for i in items if i not in done))
            status = "complete"
        finally:
            self.writer.add_usage(self.meter.drain())
            self.writer.flush()
            self.store.end_run(self.run_id, status, 0.0)
        by_slot = {r.meta["slot"]: r.data for r in self.store.iter_accepted(self.run_id)}
        self.store.close()
        return [by_slot[i] for i in sorted(by_slot) if i < total]
