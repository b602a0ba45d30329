"""The rejection funnel: one table of (step, stage, label), read by the store and by every report.

A candidate falls out of the funnel at the step whose stage rejected it (`Rejection.stage`).
Each step's count is the candidates still in after it: `generated` counts every candidate
(accepted + rejected, the `surplus` of the last slots excluded), and each later step
subtracts the rejections of its stage. Stages this table does not name (the filter gates,
grounding, language, ...) are subtracted at the `filtered` step (stage `OTHER`).
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

OTHER = "*"  # the stage of every rejection that no other step names
SURPLUS = "surplus"  # accepted beyond the target in the last slots: not part of the funnel


class Step(NamedTuple):
    step: str  # the funnel's key, in the store's manifest and report.json
    stage: str | None  # the rejection stage subtracted here (None: not a subtracting step)
    label: str  # what a report prints for it


FUNNEL: tuple[Step, ...] = (
    Step("generated", None, "generated"),
    Step("parsed", "parse", "parsed"),
    Step("valid", "validate", "valid (schema)"),
    Step("filtered", OTHER, "passed filters"),
    Step("unique", "dedup", "unique"),
    Step("judged", "judge", "passed judge"),
    Step("labelled", "label", "label agreed"),
    Step("diverse", "diversity", "within diversity caps"),
    Step("accepted", None, "accepted"),
)

FUNNEL_LABELS: dict[str, str] = {s.step: s.label for s in FUNNEL}


def funnel_counts(rejection_counts: Iterable[tuple[str, str, int]], accepted: int) -> dict[str, int]:
    """step -> candidates left after it, from (stage, reason, count) rows and the accepted count."""
    by_stage: dict[str, int] = {}
    for stage, _reason, n in rejection_counts:
        if stage != SURPLUS:
            by_stage[stage] = by_stage.get(stage, 0) + n
    named = {s.stage for s in FUNNEL if s.stage not in (None, OTHER)}
    by_stage[OTHER] = sum(n for stage, n in by_stage.items() if stage not in named)
    left = accepted + sum(n for stage, n in by_stage.items() if stage != OTHER)
    out: dict[str, int] = {}
    for s in FUNNEL:
        left -= by_stage.get(s.stage, 0) if s.stage else 0
        out[s.step] = accepted if s.step == "accepted" else left
    return out
