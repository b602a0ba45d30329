"""Techniques: one module per recipe tag. `TECHNIQUES` maps `generate.technique` to its builder.

A builder takes the technique's config object (a model in `config/`) and the
recipe's folder, and returns a `Generator` (see `base.py`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..registry import lookup

_G = "synthloom.generators"
TECHNIQUES: dict[str, str] = {
    "schema": f"{_G}.schema:build",
    "self_instruct": f"{_G}.self_instruct:build",
    "evol_instruct": f"{_G}.evol_instruct:build",
    "extract": f"{_G}.extract:build",
    "documents": f"{_G}.documents:build",
    "qa": f"{_G}.qa:build",
    "redteam": f"{_G}.redteam:build",
    "translate": f"{_G}.translate:build",
    "adversarial": f"{_G}.adversarial:build",
    "classification": f"{_G}.classification:build",
    "augment": f"{_G}.augment:build",
    "conversation": f"{_G}.conversation:build",
    "tools": f"{_G}.tools:build",
}


def build_generator(config: Any, base_dir: Path):
    """The generator for a recipe's `generate:` section."""
    build = lookup(TECHNIQUES, config.technique)
    if build is None:
        from ..errors import RecipeError

        raise RecipeError(f"generate.technique '{config.technique}' is not available in this version")
    return build(config, base_dir)
