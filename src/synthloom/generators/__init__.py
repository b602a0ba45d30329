"""Techniques: one module per recipe tag. `TECHNIQUES` maps `generate.technique` to its builder.

A builder takes the technique's config object (a model in `config/`) and the
recipe's folder, and returns a `Generator` (see `base.py`). The table is derived from
config/catalog.py, the one list of techniques; a builder is imported when a recipe names it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config.catalog import TECHNIQUES as _CATALOG
from ..registry import lookup

TECHNIQUES: dict[str, str] = {t.tag: t.generator for t in _CATALOG}


def build_generator(config: Any, base_dir: Path):
    """The generator for a recipe's `generate:` section."""
    build = lookup(TECHNIQUES, config.technique)
    if build is None:
        from ..errors import RecipeError

        raise RecipeError(f"generate.technique '{config.technique}' is not available in this version")
    return build(config, base_dir)
