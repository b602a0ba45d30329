"""What a quality gate is.

A gate takes a candidate record and returns it (possibly with scores added to
`meta["scores"]`) or a `Rejection` naming the stage and reason.

Stateful gates (dedup, diversity caps) keep an index of accepted records:
`prime()` rebuilds it from the store when a run resumes, `commit()` adds a
record once every gate has accepted it. The engine runs stateful gates one
candidate at a time (under a lock), after the stateless ones, so a check and its
commit see a consistent index.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from ..llm.types import LLM
from ..records import Record, Rejection


@dataclass
class GateContext:
    llm: LLM | None = None  # the model a judge uses (may differ from the generator's)
    seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


class Gate(Protocol):
    name: str
    stage: str  # validate | filter | dedup | judge | label | diversity
    stateful: bool

    def prime(self, accepted: Iterable[Record]) -> None: ...

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection: ...

    def commit(self, rec: Record) -> None: ...


async def admit(rec: Record, stateful: list[Gate], ctx: GateContext) -> Record | Rejection:
    """The final say of the stateful gates on one record: a rejection, or the record committed to each.

    Callers run this for one candidate at a time, so a check and its commit see the same index.
    """
    for g in stateful:
        out = await g.check(rec, ctx)
        if isinstance(out, Rejection):
            return out
        rec = out
    for g in stateful:
        g.commit(rec)
    return rec


class StatelessGate:
    """Convenience base for gates with no index: override `check`."""

    name = "gate"
    stage = "filter"
    stateful = False

    def prime(self, accepted: Iterable[Record]) -> None:
        return None

    def commit(self, rec: Record) -> None:
        return None


def field_value(rec: Record, name: str) -> Any:
    """A record's field by name: its data first, then its meta (where techniques keep sources)."""
    if name in rec.data:
        return rec.data[name]
    return rec.meta.get(name)
