"""Run a recipe end to end: resolve paths, run the loop, write the run's outputs.

The run's own files (the data file, rejected.jsonl, manifest.json) are written through the
run layer (`runs/`). The fine-tuning exports a recipe declares (`output.exports`) belong to
the export layer above the engine, so the engine does not import it: the caller hands in an
`exporter`. `synthloom.run_recipe` and `synthloom run` hand in `export.dataset.export_declared`;
called here without one, a recipe that declares exports is refused before any work.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

from ..config.recipe import ExportSettings, Recipe
from ..errors import UsageError
from ..runs import create_store, read_manifest, resolve_output, write_manifest
from ..runs.writers import rejection_row, write_jsonl, write_records
from .runner import Progress, RunSummary, arun
from .shards import Shard

Exporter = Callable[[Path, ExportSettings], Any]  # (run dir, one of recipe.output.exports) -> anything


def _check_outputs(recipe: Recipe, output: str | Path | None, data_path: Path, run_dir: Path,
                   exporter: Exporter | None) -> None:
    """Every path the run will write, checked before any work: an unusable one is one clear error, nothing made."""
    from ..userfiles import check_file, check_folder

    named = str(output) if output else (f"output.path {recipe.output.path!r}" if recipe.output.path else None)
    check_file(data_path, "output file", named)
    check_folder(run_dir, "run folder", named)
    for i, exp in enumerate(recipe.output.exports):
        check_folder(Path(exp.path), "export folder", f"output.exports[{i}].path {exp.path!r}")
    if recipe.output.exports and exporter is None:
        raise UsageError("output.exports: synthloom.engine.arun_recipe writes no exports by itself; run the recipe "
                         "with synthloom.run_recipe or `synthloom run`, or pass exporter=")


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
    shard: Shard | str | None = None,
) -> RunSummary:
    """shard: `i/N` (or a Shard) makes only this shard's slots, into its own run directory (default:
    `shard-i-of-N/` inside the run's output folder); `synthloom merge` joins the shards (engine/shards.py)."""
    shard = Shard.parse(shard)
    if shard is not None and not (output or run_dir):
        output = resolve_output(recipe.output.path, recipe.name)[1] / f"shard-{shard.index}-of-{shard.count}"
    drivers = recipe.engine.ray.drivers if recipe.engine.executor == "ray" else 1
    if shard is not None and drivers > 1:
        raise UsageError(f"--shard {shard}: engine.ray.drivers ({drivers}) shards the run itself: "
                         "set drivers: 1 to run one shard, or drop --shard")
    if drivers > 1:  # N shard drivers as Ray tasks, then the merge (engine/ray_drivers.py)
        if llm is not None or judge_llm is not None:
            raise UsageError("engine.ray.drivers: each driver opens the recipe's own model; pass no llm=")
        from .ray_drivers import run_drivers

        _check_outputs(recipe, output, *resolve_output(output or recipe.output.path, recipe.name), exporter)
        summary = await run_drivers(recipe, run_recipe, base_dir=Path(base_dir), output=output, on_progress=on_progress)
        for exp in recipe.output.exports:
            exporter(summary.run_dir, exp)  # type: ignore[misc]
        return summary
    data_path, default_run_dir = resolve_output(output or recipe.output.path, recipe.name)
    run_dir = Path(run_dir) if run_dir else default_run_dir
    _check_outputs(recipe, output, data_path, run_dir, exporter)
    summary = await arun(recipe, base_dir=Path(base_dir), run_dir=run_dir, llm=llm, judge_llm=judge_llm,
                         on_progress=on_progress, shard=shard)
    with create_store(run_dir) as store:
        write_records(store.iter_accepted(summary.run_id), data_path, recipe.output.format, recipe.output.with_meta)
        if recipe.output.rejected:
            write_jsonl((rejection_row(r) for r in store.rejections(summary.run_id)), data_path.with_name("rejected.jsonl"))
        manifest = store.manifest(summary.run_id)
    manifest["output"] = str(data_path)
    manifest["stopped_by"] = summary.stopped_by
    from ..generators.variety import Variety

    # a finished run run again plans nothing (no call): the earlier manifest's personas and topic leaves stay
    manifest["generator"] = Variety.carry_plan(summary.generator, read_manifest(run_dir).get("generator") or {})
    from .cost import price_table, usage_cost

    manifest["cost"] = usage_cost(manifest["usage"], price_table(manifest["recipe"]))
    if summary.stop_detail:
        manifest["stop_detail"] = summary.stop_detail
    from ..quality.checks import applied_checks

    manifest["checks"] = applied_checks(recipe)  # the default acceptance checks this run applied (quality/checks.py)
    if summary.concurrency:
        manifest["concurrency"] = summary.concurrency
    write_manifest(run_dir, manifest)
    summary.output_path = data_path
    if shard is not None:  # a shard's exports would hold a part of the data: they are the merged run's
        return summary
    for exp in recipe.output.exports:
        exporter(run_dir, exp)  # type: ignore[misc]  # checked above
    return summary


def run_recipe(recipe: Recipe, **kwargs: Any) -> RunSummary:
    """Synchronous wrapper around `arun_recipe` (do not call from inside an event loop)."""
    return asyncio.run(arun_recipe(recipe, **kwargs))
