"""`run_recipe` as the public API gives it: the engine's run, then the exports the recipe declares.

A run (engine) sits below the exporters (export): the engine takes an `exporter` rather than
importing the export layer, and this module hands it `export.dataset.export_declared` (as
`train.distill` does for its teacher run). `synthloom run` calls these too.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

from .config.recipe import Recipe
from .engine import api as _engine
from .engine.api import Exporter
from .engine.runner import Progress, RunSummary


async def arun_recipe(
    recipe: Recipe,
    *,
    base_dir: str | Path = ".",
    output: str | Path | None = None,
    run_dir: str | Path | None = None,
    llm: Any = None,
    judge_llm: Any = None,
    on_progress: Callable[[Progress], None] | None = None,
    exporter: Exporter | None = None,
) -> RunSummary:
    """Run `recipe` and write its `output.exports` (with `exporter`, default `export.dataset.export_declared`).

    output: a data file (`x.jsonl`, `.parquet`, `.csv`: the run directory is `x.run/` beside it) or a
    folder (gets `data.jsonl`); default `recipe.output.path`, else `out/<recipe name>/`.
    """
    if exporter is None:
        from .export.dataset import export_declared as exporter

    return await _engine.arun_recipe(recipe, base_dir=base_dir, output=output, run_dir=run_dir, llm=llm,
                                     judge_llm=judge_llm, on_progress=on_progress, exporter=exporter)


def run_recipe(recipe: Recipe, **kwargs: Any) -> RunSummary:
    """Synchronous wrapper around `arun_recipe` (do not call from inside an event loop)."""
    return asyncio.run(arun_recipe(recipe, **kwargs))
