"""Quality gates. `GATE_BUILDERS` maps a recipe's `gate:` name to its builder.

Builders import their module only when a recipe names the gate, so a run that
never deduplicates semantically never loads an embedding model.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from .base import Gate, GateContext, StatelessGate


def _lazy(module: str) -> Callable[[Any, Path], Gate]:
    def build(config: Any, base_dir: Path) -> Gate:
        return importlib.import_module(f"{__name__}.{module}").build(config, base_dir)

    build.__name__ = f"build_{module}"
    return build


GATE_BUILDERS: dict[str, Callable[[Any, Path], Gate]] = {
    "dedup": _lazy("dedup"),
    "filter": _lazy("heuristics"),
    "judge": _lazy("judge"),
    "label": _lazy("labels"),
    "diversity": _lazy("diversity"),
    "language": _lazy("language_gate"),
    "reference": _lazy("reference"),  # checks against a real sample (config/classify.py)
    # document-grounded checks (config models in config/documents.py)
    "entities": _lazy("entities"),
    "grounding": _lazy("entities"),
    "support": _lazy("entities"),
    "recoverable": _lazy("entities"),
    # signals that need no strong judge (config models in config/signals.py)
    "relevance": _lazy("relevance"),
    "fluency": _lazy("fluency"),
    "completeness": _lazy("completeness"),
    "form": _lazy("form"),
}


def build_gates(configs: list[Any], base_dir: Path) -> list[Gate]:
    return [GATE_BUILDERS[c.gate](c, base_dir) for c in configs]


__all__ = ["GATE_BUILDERS", "Gate", "GateContext", "StatelessGate", "build_gates"]
