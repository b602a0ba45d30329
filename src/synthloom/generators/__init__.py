"""Techniques: one module each. `BUILDERS` maps a recipe's `technique:` to its builder."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from . import schema

BUILDERS: dict[str, Callable[[Any, Path], Any]] = {
    "schema": schema.build,
}


def build_generator(config: Any, base_dir: Path):
    import importlib

    lazy = {
        "self_instruct": "self_instruct",
        "evol_instruct": "evol_instruct",
        "extract": "extraction",
        "documents": "synthetic_documents",
        "qa": "rag_qa",
        "redteam": "redteam",
        "translate": "translate",
        "adversarial": "adversarial",
        "classification": "classification",
        "augment": "augment",
    }
    name = config.technique
    if name not in BUILDERS and name in lazy:
        module = importlib.import_module(f"{__name__}.{lazy[name]}")
        BUILDERS[name] = module.build
    if name not in BUILDERS:
        from ..errors import RecipeError

        raise RecipeError(f"generate.technique '{name}' is not available in this version")
    return BUILDERS[name](config, base_dir)
