"""Quality gates. `GATES` maps a recipe's `gate:` name to its module's builder; `gate_file` runs
gates over an existing JSONL file (what `synthloom filter / judge / label-check` do).

Builders import their module only when a recipe names the gate, so a run that
never deduplicates semantically never loads an embedding model.
"""
from __future__ import annotations

from .apply import GatedFile, agate_file, gate_file
from .base import Gate, GateContext, StatelessGate
from .gates import GATES, build_gate, build_gates


__all__ = ["GATES", "build_gate", "Gate", "GateContext", "GatedFile", "StatelessGate", "agate_file", "build_gates",
           "gate_file"]
