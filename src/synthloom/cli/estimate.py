"""`synthloom estimate RECIPE` and `synthloom run RECIPE --estimate`: a pilot, then the projection."""
from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .common import console, progress_bar
from .options import command

PilotOpt = typer.Option(None, "--pilot", help="Records the pilot makes (default: 10, or 2% of a large run, at most 200).")


def _num(x: float, unit: str = "") -> str:
    if not math.isfinite(x):
        return "∞"
    if unit == "$":
        from ..engine.cost import money

        return money(x)
    if unit == "s":
        return f"{x:.1f} s" if x < 10 else f"{x:,.0f} s" if x < 120 else f"{x / 60:,.1f} min" if x < 7200 else f"{x / 3600:,.1f} h"
    return f"{x:,.0f}"


def print_estimate(est) -> None:
    s = est.pilot
    surplus = est.usable - est.accepted
    console.print(
        f"pilot: {est.usable} of {est.slots} attempts made a record that passed the gates (yield "
        f"{est.yield_per_slot:.0%}, 95% range {est.yield_range[0]:.0%}-{est.yield_range[1]:.0%})"
        + (f"; {est.accepted} kept, {surplus} past the pilot's target dropped" if surplus else "")
        + f"; {est.fresh_calls} new calls, "
        f"{est.prompt_tokens:,} + {est.completion_tokens:,} tokens"
        + (f", {_num(est.cost, '$')}" if est.cost is not None else "")
        + f", {_num(est.wall_s, 's')}" + (f"  run dir {s.run_dir}" if s else ""),
        highlight=False)
    if not est.possible:
        console.print(f"cannot project: the pilot made no record that passed the gates in "
                      f"{est.slots} attempts, so the yield is 0 and no count of attempts reaches {est.target}. "
                      "Why the candidates were rejected:", highlight=False)
        t = Table(header_style="bold")
        for col in ("stage", "reason", "count"):
            t.add_column(col, justify="right" if col == "count" else "left")
        for stage, reason, n in est.rejections[:12]:
            t.add_row(stage, reason, str(n))
        console.print(t)
        return
    t = Table(title=f"projected for {est.target} records (pilot included)", header_style="bold")
    t.add_column("")
    t.add_column("expected", justify="right")
    t.add_column("95% range", justify="right")
    rows = [("attempts (slots)", "slots", ""), ("calls", "calls", ""), ("prompt tokens", "prompt_tokens", ""),
            ("completion tokens", "completion_tokens", ""), ("cost", "cost", "$"), ("wall time", "wall_s", "s")]
    for label, key, unit in rows:
        if key in est.projected:
            mid, lo, hi = est.projected[key]
            t.add_row(label, _num(mid, unit), f"{_num(lo, unit)} - {_num(hi, unit)}")
    console.print(t)
    console.print(f"attempt budget of the run: {est.budget} slots (engine.max_attempts)", highlight=False)
    for mode, label in (("live", "every call live"), ("batch", "every call through the batch API")):
        if mode in est.cost_modes:
            mid, lo, hi = est.cost_modes[mode]
            console.print(f"cost with {label}: {_num(mid, '$')} ({_num(lo, '$')} - {_num(hi, '$')})", highlight=False)
    if est.batch_seconds:
        console.print(f"batch time: the pilot's {len(est.batch_seconds)} batches took {_num(max(est.batch_seconds), 's')} "
                      "at most; each round of batches answers within the provider's window (24 h)", highlight=False)
    if "cost" not in est.projected:
        console.print("cost: no model in the recipe has a price (add `price: {input: ..., output: ...}` per million "
                      "tokens to a model block)", highlight=False)
    for w in est.warnings:
        console.print(f"warning: {w}", highlight=False)


def pilot(recipe, base_dir: Path, output: Optional[str], pilot_count: Optional[int]):
    from ..engine.estimate import aestimate, default_pilot

    k = pilot_count or default_pilot(recipe.count)
    with progress_bar(min(recipe.count, max(k, 1)), label="pilot") as on_progress:
        est = asyncio.run(aestimate(recipe, base_dir=base_dir, output=output, pilot=k, on_progress=on_progress))
    print_estimate(est)
    return est


@command
def estimate(
    recipe_file: Path = typer.Argument(..., help="A YAML recipe (see examples/)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output file or folder; the pilot runs in its run dir."),
    count: Optional[int] = typer.Option(None, "-n", "--count", help="Records to make; overrides count."),
    pilot_count: Optional[int] = PilotOpt,
) -> None:
    """Run a small pilot and project the calls, tokens, cost and wall time of the whole run.

    The pilot's calls and records stay in the run's store: `synthloom run` with the same recipe
    and output continues from it, paying for nothing twice.
    """
    from ..engine.recipe_file import load_recipe

    recipe = load_recipe(recipe_file, {"count": count})
    if not pilot(recipe, recipe_file.parent, output, pilot_count).possible:
        raise typer.Exit(1)
