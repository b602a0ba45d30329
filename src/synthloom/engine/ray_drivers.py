"""`engine.executor: ray` with `engine.ray.drivers: N`: the run as N shard drivers, each a Ray task, then one merge.

Each driver is `synthloom run RECIPE --shard i/N` inside a Ray task (engine/shards.py): its own
slots, its own run store under `RUN_DIR/shards/shard-i-of-N/` on the node the task runs on, its model
called from the task itself (a GGUF in-process, reserving `engine.ray.num_cpus` / `num_gpus` /
`resources` per driver; for an `openai` model, driver i uses `engine.ray.endpoints[i % len]` when
endpoints are given). When every driver is done, the merge runs here: the recipe's dedup gates
across the shards, one data file, one store, one manifest. The shard folders must be readable
from here: on a cluster, RUN_DIR is on a shared file system. A driver that fails leaves its shard
to resume: running the recipe again redoes only what is missing.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ..config.recipe import Recipe
from ..runs import resolve_output
from .runner import Progress, RunSummary
from .shards import Shard, amerge_runs


def _drive(run_recipe: Callable[..., RunSummary], recipe_json: dict, base_dir: str, shard_dir: str, shard: str) -> dict:
    """One shard driver (runs inside a Ray task): the shard's run on the local executor (`engine.api.run_recipe`,
    handed in by the caller)."""
    recipe = Recipe.model_validate(recipe_json)
    s = run_recipe(recipe, base_dir=base_dir, output=shard_dir, shard=shard)
    return {"shard": shard, "accepted": s.accepted, "target": s.target, "stopped_by": s.stopped_by,
            "calls": s.calls, "cache_hits": s.cache_hits, "completion_tokens": s.completion_tokens,
            "rejected": s.rejected}


def shard_recipe(recipe: Recipe, index: int) -> dict:
    """Driver i's recipe: the same run on its local executor, with endpoints[i % len] for its openai models."""
    data = recipe.model_dump(mode="json", by_alias=True)
    settings = recipe.engine.ray
    data["engine"]["executor"] = "local"
    data["engine"]["ray"] = {}
    if settings.endpoints:
        url = settings.endpoints[index % len(settings.endpoints)]
        models = data["model"] if isinstance(data["model"], list) else [data["model"]]
        for m in models:
            if m.get("backend") == "openai":
                m["base_url"] = url
    return data


async def run_drivers(recipe: Recipe, run_recipe: Callable[..., RunSummary], *, base_dir: Path, output: Any = None,
                      on_progress: Callable[[Progress], None] | None = None) -> RunSummary:
    import asyncio

    from .ray_executor import RayExecutor, import_ray

    settings = recipe.engine.ray
    n = settings.drivers
    data_path, run_dir = resolve_output(output or recipe.output.path, recipe.name)
    shard_dirs = [run_dir / "shards" / f"shard-{i}-of-{n}" for i in range(n)]
    ray = import_ray()
    started = RayExecutor.connect(settings)
    t = time.perf_counter()
    try:
        opts: dict[str, Any] = {"num_cpus": settings.num_cpus, "num_gpus": settings.num_gpus,
                                "max_retries": settings.max_restarts}
        if settings.resources:
            opts["resources"] = settings.resources
        task = ray.remote(**opts)(_drive)
        refs = [task.remote(run_recipe, shard_recipe(recipe, i), str(Path(base_dir).resolve()), str(shard_dirs[i].resolve()),
                            str(Shard(i, n))) for i in range(n)]
        parts = await asyncio.gather(*(asyncio.wrap_future(r.future()) for r in refs))
    finally:
        if started:
            ray.shutdown()
    merged = await amerge_runs(shard_dirs, output if output is not None else data_path)
    from ..runs import open_store

    with open_store(merged.run_dir) as store:
        manifest = store.manifest()
        rejections = [r for r in store.rejection_counts(manifest["run_id"]) if r[0] != "surplus"]
    summary = RunSummary(
        run_id=manifest["run_id"], run_dir=merged.run_dir, accepted=merged.accepted,
        rejected=sum(n for _, _, n in rejections), target=merged.target,
        stopped_by="target" if merged.complete else next((p["stopped_by"] for p in parts if p["stopped_by"] != "target"),
                                                         "merge"),
        wall_s=time.perf_counter() - t, resumed=False, funnel=manifest["funnel"], rejections=rejections,
        calls=sum(p["calls"] for p in parts), cache_hits=sum(p["cache_hits"] for p in parts),
        completion_tokens=sum(p["completion_tokens"] for p in parts), output_path=merged.output_path)
    if on_progress:
        on_progress(Progress(target=summary.target, accepted=summary.accepted, rejected=summary.rejected,
                             calls=summary.calls, cache_hits=summary.cache_hits))
    return summary
