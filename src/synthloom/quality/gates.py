"""The gate table: a recipe's `gate:` tag -> "module:build" (one module per tag), and the builders."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..registry import load
from .base import Gate

_Q = "synthloom.quality"
# gate tag -> "module:build"; one module per tag (config models in config/quality.py,
# config/documents.py, config/classify.py, config/signals.py and config/decontaminate.py)
GATES: dict[str, str] = {
    tag: f"{_Q}.{tag}:build"
    for tag in ("dedup", "filter", "judge", "label", "diversity", "language", "reference",
                "entities", "grounding", "support", "recoverable",
                "relevance", "fluency", "completeness", "form", "decontaminate")
}


def build_gate(config: Any, base_dir: Path | str) -> Gate:
    """The gate for one `quality:` entry (its config model; `base_dir` resolves relative files)."""
    return load(GATES[config.gate])(config, Path(base_dir))


def build_gates(configs: list[Any], base_dir: Path | str) -> list[Gate]:
    return [build_gate(c, base_dir) for c in configs]
