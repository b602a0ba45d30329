"""`grounding` gate: every evidence quote of a record occurs (normalized) in the source texts it cites."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..records import Problem, Record, Rejection
from .base import GateContext, StatelessGate, field_value
from .text import quote_in


class GroundingGate(StatelessGate):
    """`grounding`: every evidence quote occurs (normalized) in the cited source texts."""

    name = "grounding"
    stage = "validate"

    def __init__(self, *, evidence: str = "evidence", contexts: str = "contexts",
                 allow_empty_for: Sequence[str] = ("unanswerable",)) -> None:
        self.evidence, self.contexts, self.allow_empty_for = evidence, contexts, set(allow_empty_for)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        problem = grounding_problem(field_value(rec, self.evidence), field_value(rec, self.contexts),
                                    rec.data.get("kind"), self.allow_empty_for)
        return rec if problem is None else problem.reject(rec, self.stage)


def grounding_problem(evidence: Any, contexts: Any, kind: str | None = None,
                      allow_empty_for: Iterable[str] = ("unanswerable",)) -> Problem | None:
    if isinstance(evidence, str):
        evidence = [evidence]
    if not evidence:
        if kind in set(allow_empty_for):
            return None
        return Problem("grounding:no_evidence", "no evidence quote given")
    if not contexts:
        return Problem("grounding:no_context", "no cited source text to check the evidence against")
    texts = [contexts] if isinstance(contexts, str) else list(contexts)
    for q in evidence:
        if not isinstance(q, str) or not quote_in(q, texts):
            return Problem("grounding:not_verbatim", f"evidence {str(q)[:100]!r} is not a quote from the cited chunks")
    return None


def build(config: Any, base_dir: Any) -> StatelessGate:
    """quality.GATES entry for `gate: grounding` (config.documents.GroundingGateConfig)."""
    return GroundingGate(evidence=config.evidence, contexts=config.contexts, allow_empty_for=config.allow_empty_for)
