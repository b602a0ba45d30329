"""`recoverable` gate: every labelled value can be found in the document, under its own name where the
document names fields; optionally nothing invented."""
from __future__ import annotations

from typing import Any, Sequence

from ..records import Problem, Record, Rejection
from .base import GateContext, StatelessGate, field_value
from .rules import invented_values, misattributed_values, missing_values


class RecoverableGate(StatelessGate):
    """`recoverable`: every labelled value is in the document; optionally nothing invented."""

    name = "recoverable"
    stage = "validate"

    def __init__(self, *, label: str = "label", document: str = "document", match: str = "normalized",
                 skip_fields: Sequence[str] = (), reject_invented: Sequence[str] = ()) -> None:
        self.label, self.document, self.match = label, document, match
        self.skip, self.invented = list(skip_fields), list(reject_invented)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        problem = recoverable_problem(field_value(rec, self.label), field_value(rec, self.document) or "", self.match,
                                      self.skip, self.invented)
        return rec if problem is None else problem.reject(rec, self.stage)


def recoverable_problem(label: Any, document: str, match: str = "normalized", skip: Sequence[str] = (),
                        invented: Sequence[str] = ()) -> Problem | None:
    missing = missing_values(label, document, match, skip)
    if missing:
        listing = ", ".join(f"{w}={str(v)[:40]!r}" for w, v in missing[:6])
        return Problem("rule:recoverable", f"{len(missing)} labelled value(s) not in the document: {listing}")
    wrong = misattributed_values(label, document, match, skip)
    if wrong:
        return Problem("rule:misattributed", "the document states a labelled value under another field: " + "; ".join(wrong[:4]))
    extra = invented_values(label, document, invented) if invented else []
    if extra:
        return Problem("rule:invented", f"the document states values the label lacks: {', '.join(extra[:6])}")
    return None


def build(config: Any, base_dir: Any) -> StatelessGate:
    """quality.GATES entry for `gate: recoverable` (config.documents.RecoverableGateConfig)."""
    return RecoverableGate(label=config.label, document=config.document, match=config.match,
                           skip_fields=config.skip_fields, reject_invented=config.reject_invented)
