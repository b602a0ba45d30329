"""`run_recipe` as the public API gives it: the engine's run, then the exports the recipe declares.

This is the one place where a run (engine, below) meets the exporters (export, above it):
the engine takes an `exporter` rather than importing the export layer, and this module
hands it `export.dataset.export_declared`. `synthloom run` calls these too.
"""
from __future__ import annotations

import asyncio
from typing import Any

from .config.recipe import Recipe
from .engine import api as _engine
from .engine.runner import RunSummary


async def arun_recipe(recipe: Recipe, **kwargs: Any) -> RunSummary:
    """Run `recipe` (keyword arguments as `synthloom.engine.arun_recipe`) and write its `output.exports`."""
    from .export.dataset import export_declared

    kwargs.setdefault("exporter", export_declared)
    return await _engine.arun_recipe(recipe, **kwargs)


def run_recipe(recipe: Recipe, **kwargs: Any) -> RunSummary:
    """Synchronous wrapper around `arun_recipe` (do not call from inside an event loop)."""
    return asyncio.run(arun_recipe(recipe, **kwargs))
