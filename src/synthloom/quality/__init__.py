"""Quality gates. `GATE_BUILDERS` maps a recipe's `gate:` name to its builder."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from ..records import Record, Rejection, canonical_json
from .base import Gate, GateContext, StatelessGate


class _ExactDedup:
    """Exact duplicates of the whole record (temporary default until quality.dedup lands)."""

    name = "dedup"
    stage = "dedup"
    stateful = True

    def __init__(self, fields: list[str] | None = None) -> None:
        self.fields = fields
        self.seen: set[bytes] = set()

    def _key(self, rec: Record) -> bytes:
        data = {k: rec.data.get(k) for k in self.fields} if self.fields else rec.data
        return canonical_json(data)

    def prime(self, accepted: Iterable[Record]) -> None:
        self.seen.update(self._key(r) for r in accepted)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        if self._key(rec) in self.seen:
            return Rejection.of(rec, "dedup", "exact_duplicate", "identical to an accepted record")
        return rec

    def commit(self, rec: Record) -> None:
        self.seen.add(self._key(rec))


def _build_exact(config: Any, base_dir: Path) -> Gate:
    return _ExactDedup(config.fields)


GATE_BUILDERS: dict[str, Callable[[Any, Path], Gate]] = {
    "dedup": _build_exact,
}


def build_gates(configs: list[Any], base_dir: Path) -> list[Gate]:
    return [GATE_BUILDERS[c.gate](c, base_dir) for c in configs]


__all__ = ["GATE_BUILDERS", "Gate", "GateContext", "StatelessGate", "build_gates"]
