"""The run loop's side of `batch_api`: bind each batch backend to the run store, and pace the slots.

A live run keeps `engine.concurrency` slots in flight and lets the last ones run past the target
(their records are `surplus`). With a batch API every slot in flight waits for the same batch, so
the number in flight is the size of the next batch: the pacer starts a slot only while the slots
in flight are fewer than the records still missing divided by the yield so far (the technique's
expected yield until 5 slots have finished). The first batch holds the whole run; each later one
holds what the earlier ones left to do (retries, replacements of rejected candidates), and the
last ones do not pay for records past the target.
"""
from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Any, Awaitable, Callable, Iterator

from ..errors import RecipeError


def batch_backends(llm: Any) -> Iterator[Any]:
    """Every BatchLLM behind `llm`: itself, or a pool's members."""
    from ..llm.batch_llm import BatchLLM

    if isinstance(llm, BatchLLM):
        yield llm
    for member in getattr(llm, "members", None) or ():
        yield from batch_backends(member[0] if isinstance(member, tuple) else member)


class Pacer:
    """Slots in flight <= records missing / yield so far (module docstring). Workers past that wait in a
    FIFO of futures (not an asyncio.Condition: thousands of waiters make each of its wake-ups O(n))."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.in_flight = 0
        self.finished = 0
        self.accepted_before = len(run.accepted)
        self.waiting: deque[asyncio.Future] = deque()

    def allowed(self) -> int:
        run = self.run
        missing = run.target - len(run.accepted)
        if self.finished >= 5:
            rate = (len(run.accepted) - self.accepted_before) / self.finished
        else:
            rate = getattr(run.generator, "expected_yield", None) or 1.0
        return math.ceil(missing / min(1.0, max(rate, 0.02)))

    async def run_slot(self, run_slot: Callable[[int], Awaitable[None]], slot: int) -> None:
        while self.in_flight >= self.allowed():
            if not self.run.budget_left():
                self._wake(len(self.waiting))
                return  # the slot stays undone; the worker sees the stop and ends
            fut = asyncio.get_running_loop().create_future()
            self.waiting.append(fut)
            await fut
        self.in_flight += 1
        try:
            await run_slot(slot)
        finally:
            self.in_flight -= 1
            self.finished += 1
            self._wake(len(self.waiting) if not self.run.budget_left() else self.allowed() - self.in_flight)

    def _wake(self, n: int) -> None:
        while n > 0 and self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_result(None)
                n -= 1


def attach(run: Any, llm: Any = None) -> Pacer | None:
    """Bind the batch backends behind `llm` (default: the run's model) to the run; the run's pacer, or None
    when no model of the run calls through a batch API."""
    found = list(batch_backends(run.base_llm if llm is None else llm))
    if not found:
        return getattr(run, "pacer", None)
    if run.remote is not None:
        raise RecipeError("model.batch_api: batch calls run on the local executor; remove engine.executor: ray")
    for b in found:
        b.bind(run.store, run.run_id, lambda: run.target - len(run.accepted))
    return getattr(run, "pacer", None) or Pacer(run)


def cost_both_ways(usage: list[dict[str, Any]], prices: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """What the calls in `usage` cost at live prices and through the batch API ({"live", "batch"}), for
    `estimate`; None when no model of the run has a batch price. A call of a model without one counts
    at its own price in both."""
    from .cost import call_cost

    both = {"live": 0.0, "batch": 0.0}
    found = False
    for u in usage:
        model = u["model"]
        if model.endswith("-batch") and "@" in model:
            live, batch = model.rsplit("@", 1)[0], model
        else:
            live = model
            batch = next((k for k in prices if k.startswith(model + "@") and k.endswith("-batch")), None)
        tokens = (u["prompt_tokens"], u["completion_tokens"], u.get("cached_prompt_tokens") or 0)
        for mode, ident in (("live", live), ("batch", batch)):
            price = prices.get(ident) if ident else None
            price = price or prices.get(model)
            if price is not None:
                both[mode] += call_cost(price, *tokens)
        found = found or (batch in prices and live in prices)
    return both if found else None


def turnaround(store: Any, run_id: str) -> list[float]:
    """Seconds from prepared to collected of each collected batch of a run."""
    from ..runs.batch_log import BatchLog, has_batches

    if not has_batches(store):
        return []
    return [b["updated"] - b["created"] for b in BatchLog(store).batches(run_id) if b["state"] == "collected"]
