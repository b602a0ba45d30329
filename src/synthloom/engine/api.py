"""Run a recipe end to end: resolve paths, run the loop, write the outputs."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

import orjson

from ..config.recipe import Recipe
from ..export.writers import atomic_path, rejection_row, write_jsonl, write_records
from .runner import Progress, RunSummary, arun
from .store import RunStore

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


def resolve_output(path: str | Path | None, recipe_name: str) -> tuple[Path, Path]:
    """(data file, run dir). A file path gets a run dir beside it (`x.jsonl` -> `x.run/`);
    a folder gets `data.jsonl` inside it and is the run dir itself."""
    p = Path(path) if path else Path("out") / recipe_name
    if p.suffix in DATA_SUFFIXES and not p.is_dir():
        return p, p.with_name(p.stem + ".run")
    return p / "data.jsonl", p


def _check_outputs(recipe: Recipe, output: str | Path | None, data_path: Path, run_dir: Path) -> None:
    """Every path the run will write, checked before any work: an unusable one is one clear error, nothing made."""
    from ..userfiles import check_file, check_folder

    named = str(output) if output else (f"output.path {recipe.output.path!r}" if recipe.output.path else None)
    check_file(data_path, "output file", named)
    check_folder(run_dir, "run folder", named)
    for i, exp in enumerate(recipe.output.exports):
        check_folder(Path(exp.path), "export folder", f"output.exports[{i}].path {exp.path!r}")


async def arun_recipe(
    recipe: Recipe,
    *,
    base_dir: str | Path = ".",
    output: str | Path | None = None,
    run_dir: str | Path | None = None,
    llm: Any = None,
    judge_llm: Any = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunSummary:
    data_path, default_run_dir = resolve_output(output or recipe.output.path, recipe.name)
    run_dir = Path(run_dir) if run_dir else default_run_dir
    _check_outputs(recipe, output, data_path, run_dir)
    summary = await arun(recipe, base_dir=Path(base_dir), run_dir=run_dir, llm=llm, judge_llm=judge_llm,
                         on_progress=on_progress)
    with RunStore(run_dir / "store.sqlite") as store:
        write_records(store.iter_accepted(summary.run_id), data_path, recipe.output.format, recipe.output.with_meta)
        if recipe.output.rejected:
            write_jsonl((rejection_row(r) for r in store.rejections(summary.run_id)), data_path.with_name("rejected.jsonl"))
        manifest = store.manifest(summary.run_id)
    manifest["output"] = str(data_path)
    manifest["stopped_by"] = summary.stopped_by
    manifest["generator"] = summary.generator
    from .cost import price_table, usage_cost

    manifest["cost"] = usage_cost(manifest["usage"], price_table(manifest["recipe"]))
    if summary.stop_detail:
        manifest["stop_detail"] = summary.stop_detail
    if summary.concurrency:
        manifest["concurrency"] = summary.concurrency
    with atomic_path(run_dir / "manifest.json") as tmp:
        tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    summary.output_path = data_path
    for exp in recipe.output.exports:
        from ..export.dataset import export_run

        export_run(run_dir, exp.format, exp.path, split=exp.split, system=exp.system, seed=exp.seed,
                   stratify=exp.stratify)
    return summary


def run_recipe(recipe: Recipe, **kwargs: Any) -> RunSummary:
    """Synchronous wrapper around `arun_recipe` (do not call from inside an event loop)."""
    return asyncio.run(arun_recipe(recipe, **kwargs))
