"""The gate table: a recipe's `gate:` tag -> "module:build" (one module per tag), and the builders."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config.catalog import GATES as _CATALOG
from ..registry import load
from .base import Gate

# gate tag -> "module:build", derived from config/catalog.py (the one list of gates)
GATES: dict[str, str] = {g.tag: g.builder for g in _CATALOG}


def build_gate(config: Any, base_dir: Path | str) -> Gate:
    """The gate for one `quality:` entry (its config model; `base_dir` resolves relative files)."""
    return load(GATES[config.gate])(config, Path(base_dir))


def build_gates(configs: list[Any], base_dir: Path | str) -> list[Gate]:
    return [build_gate(c, base_dir) for c in configs]
