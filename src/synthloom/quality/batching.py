"""Model-scored checks in batches: the checks awaiting on one event loop are measured in one call.

A gate that scores with a local model (fluency, the question/answer PMI, the label PMI) is checked for
many candidates at once (the slots in flight). Each check awaits ``batcher.run(item, measure)``; the
first one starts a drain that hands every item waiting at that moment to ``measure(items)`` in a worker
thread, one call for all, and gives each check its own result (or the call's exception). Items that
arrive while a call runs go in the next one. A copy of the batcher (a Ray worker's) starts empty.
"""
from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiting:
    """Items whose checks wait for the next call, on one event loop."""

    items: list[tuple[Any, "asyncio.Future[Any]"]] = field(default_factory=list)
    draining: bool = False
    task: Any = None  # the draining task (held: the loop keeps only a weak reference)


class LoopBatcher(Generic[T, R]):
    def __init__(self) -> None:
        self._waiting: weakref.WeakKeyDictionary[Any, _Waiting] = weakref.WeakKeyDictionary()  # per event loop

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()

    async def run(self, item: T, measure: Callable[[list[T]], Sequence[R]]) -> R:
        """`measure([item, ...])[i]` for this item, measured together with the items waiting beside it."""
        loop = asyncio.get_running_loop()
        state = self._waiting.get(loop)
        if state is None:
            state = self._waiting[loop] = _Waiting()
        fut: asyncio.Future[R] = loop.create_future()
        state.items.append((item, fut))
        if not state.draining:
            state.draining = True
            state.task = loop.create_task(_drain(state, measure))
        return await fut


async def _drain(state: _Waiting, measure: Callable[[list[Any]], Sequence[Any]]) -> None:
    try:
        while state.items:
            batch, state.items = state.items, []
            try:
                results = list(await asyncio.to_thread(measure, [item for item, _f in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(f"{getattr(measure, '__qualname__', measure)} gave {len(results)} results "
                                       f"for {len(batch)} items")
            except Exception as exc:  # every check of the batch gets the error (none is left waiting)
                for _i, f in batch:
                    if not f.done():
                        f.set_exception(exc)
                continue
            for (_i, f), r in zip(batch, results):
                if not f.done():
                    f.set_result(r)
    finally:
        state.draining = False
