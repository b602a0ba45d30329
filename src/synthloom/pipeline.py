"""`run_recipe` as the public API gives it: the engine's run, then the exports the recipe declares.

A run (engine) sits below the exporters (export): the engine takes an `exporter` rather than
importing the export layer, and this module hands it `export.dataset.export_declared` (as
`train.distill` does for its teacher run). `synthloom run` calls these too.
"""
from __future__ import annotations

import asyncio
from typing import Any

from .config.recipe import Recipe
from .engine import api as _engine
from .engine.runner import RunSummary


async def arun_recipe(recipe: Recipe, **kwargs: Any) -> RunSummary:
    """Run `recipe` and write its `output.exports`.

    Keyword arguments as `synthloom.engine.arun_recipe` (base_dir, output, run_dir, llm, judge_llm,
    on_progress); `exporter` defaults to `export.dataset.export_declared`. output: a data file
    (`x.jsonl`, `.parquet`, `.csv`: the run directory is `x.run/` beside it) or a folder (gets
    `data.jsonl`); default `recipe.output.path`, else `out/<recipe name>/`.
    """
    if kwargs.get("exporter") is None:
        from .export.dataset import export_declared

        kwargs["exporter"] = export_declared
    return await _engine.arun_recipe(recipe, **kwargs)


def run_recipe(recipe: Recipe, **kwargs: Any) -> RunSummary:
    """Synchronous wrapper around `arun_recipe` (do not call from inside an event loop)."""
    return asyncio.run(arun_recipe(recipe, **kwargs))
