"""Run quality gates over records that already exist (a JSONL file), outside a generation run.

Stateless gates run first, then stateful ones, each record committed once it
passes every gate: the same order and semantics as in a run.
"""
from __future__ import annotations

import asyncio
from typing import Any, Iterable, Sequence

from ..records import Record, Rejection
from .base import Gate, GateContext, admit


async def aapply_gates(records: Iterable[Record], gates: Sequence[Gate], ctx: GateContext,
                       concurrency: int = 4) -> tuple[list[Record], list[Rejection]]:
    """(kept in input order, rejected). LLM gates run `concurrency` records at a time."""
    records = list(records)
    stateless = [g for g in gates if not g.stateful]
    stateful = [g for g in gates if g.stateful]
    sem = asyncio.Semaphore(concurrency)

    async def first_pass(rec: Record) -> Record | Rejection:
        async with sem:
            for g in stateless:
                out = await g.check(rec, ctx)
                if isinstance(out, Rejection):
                    return out
                rec = out
            return rec

    survivors = await asyncio.gather(*(first_pass(r) for r in records))
    kept: list[Record] = []
    rejected: list[Rejection] = []
    for item in survivors:
        if isinstance(item, Rejection):
            rejected.append(item)
            continue
        out = await admit(item, stateful, ctx)
        (rejected if isinstance(out, Rejection) else kept).append(out)
    return kept, rejected


def apply_gates(records: Iterable[Record], gates: Sequence[Gate], llm: Any = None, seed: int = 0,
                concurrency: int = 4) -> tuple[list[Record], list[Rejection]]:
    """Synchronous wrapper of `aapply_gates` (not from inside an event loop)."""
    async def go() -> tuple[list[Record], list[Rejection]]:
        ctx = GateContext(llm=llm, seed=seed)
        try:
            return await aapply_gates(records, gates, ctx, concurrency)
        finally:
            await ctx.models.aclose()  # the models gates opened for their own `model:` blocks

    return asyncio.run(go())
