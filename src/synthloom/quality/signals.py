"""The signal gates a technique switches on by itself (Self-Instruct, Evol-Instruct), cheapest first."""
from __future__ import annotations

from typing import Sequence

from .base import Gate


def technique_gates(signals: Sequence[str], reference_instructions: Sequence[str | tuple[str, str]] = ()) -> list[Gate]:
    """Gates for the named signals with their default thresholds; relevance is calibrated on the seeds too."""
    gates: list[Gate] = []
    if "form" in signals:
        from .form import FormGate

        gates.append(FormGate())
    if "completeness" in signals:
        from .completeness import CompletenessGate

        gates.append(CompletenessGate())
    if "relevance" in signals:
        from .relevance import RelevanceGate

        gates.append(RelevanceGate(reference=list(reference_instructions)))
    if "fluency" in signals:
        from .fluency import FluencyGate

        gates.append(FluencyGate())
    return gates
