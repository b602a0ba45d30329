"""What a run will take, from a pilot: calls, tokens, cost and wall time to reach the target count.

The pilot is the run itself with a smaller count, in the same run directory: its slots,
records and calls are the run's (the count is not part of a run's identity), so the real
run continues from where the pilot stopped and no call is paid twice.

The projection divides the records still missing by the pilot's yield per slot (a slot is
one candidate attempt), and multiplies by what a slot cost in the pilot: calls, fresh
tokens, money at the recipe's prices, wall time at the recipe's concurrency. The range is
the 95% Wilson interval of that yield, widened by the 95% interval of the mean calls,
tokens and cost per slot (their spread from slot to slot in the pilot): the uncertainty
a pilot of that size leaves.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config.recipe import Recipe
from .cost import price_table, usage_cost
from .projection import attempt_budget
from .runner import Progress, RunSummary, arun
from ..runs import RunStore, create_store

Z95 = 1.96


def default_pilot(count: int) -> int:
    """10 records, or 2% of a large run (at most 200); never more than the run's own count."""
    return min(count, max(10, min(200, math.ceil(0.02 * count))))


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Estimate:
    target: int
    pilot_target: int
    slots: int  # candidate attempts finished so far (pilot and anything before it)
    accepted: int
    usable: int  # accepted + candidates that passed every gate after the pilot's target was met
    calls: int
    fresh_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    wall_s: float
    yield_per_slot: float
    yield_range: tuple[float, float]
    # quantity -> (expected, low, high) for the whole run (pilot included)
    projected: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rejections: list[tuple[str, str, int]] = field(default_factory=list)
    pilot: RunSummary | None = None
    budget: int = 0  # slots the real run may try (engine.max_attempts, else from the technique's expected yield)
    # batch_api: the projected cost if every call went live / through the batch API, and the pilot's batches' seconds
    cost_modes: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    batch_seconds: list[float] = field(default_factory=list)

    @property
    def possible(self) -> bool:
        return self.usable > 0 or self.accepted >= self.target


def _rel_half_width(values: list[float]) -> float:
    """95% half-width of the mean of `values`, relative to the mean (0 when it cannot be told)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    if mean <= 0:
        return 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return min(1.0, Z95 * sd / math.sqrt(n) / mean)


def project(recipe: Recipe, store: RunStore, run_id: str, pilot_target: int,
            per_slot_samples: dict[str, list[float]] | None = None, budget: int | None = None) -> Estimate:
    """The projection from what the store holds for `run_id` (after a pilot).

    `per_slot_samples`: calls, completion tokens and cost of each pilot slot, for the spread.
    """
    info = store.run_info(run_id)
    usage = store.usage(run_id)
    counts = store.rejection_counts(run_id)
    slots = len(store.done_slots(run_id))
    accepted = store.accepted_count(run_id)
    surplus = sum(n for s, _r, n in counts if s == "surplus")
    calls = sum(u["calls"] for u in usage)
    hits = sum(u["cache_hits"] for u in usage)
    prompt = sum(u["prompt_tokens"] for u in usage)
    completion = sum(u["completion_tokens"] for u in usage)
    prices = price_table(info.get("recipe") or {})
    cost = usage_cost(usage, prices)["total"]
    wall = float(info.get("wall_s") or 0.0)
    usable = accepted + surplus
    p = usable / slots if slots else 0.0
    lo, hi = wilson(usable, slots)
    est = Estimate(target=recipe.count, pilot_target=pilot_target, slots=slots, accepted=accepted, usable=usable,
                   calls=calls, fresh_calls=calls - hits, prompt_tokens=prompt, completion_tokens=completion,
                   cost=cost, wall_s=wall, yield_per_slot=p, yield_range=(lo, hi),
                   rejections=[r for r in counts if r[0] != "surplus"])
    missing = max(0, recipe.count - accepted)
    if not est.possible:
        return est
    fresh = max(calls - hits, 1)
    per_slot = {"calls": calls / slots if slots else 0.0, "wall_s": wall / slots if slots else 0.0}
    per_call = {"prompt_tokens": prompt / fresh, "completion_tokens": completion / fresh}
    if cost is not None:
        per_call["cost"] = cost / fresh
    done = {"slots": slots, "calls": calls, "prompt_tokens": prompt, "completion_tokens": completion,
            "cost": cost or 0.0, "wall_s": wall}

    def slots_needed(rate: float) -> float:
        return missing / rate if rate > 0 else math.inf

    samples = per_slot_samples or {}
    spread = {k: _rel_half_width(samples.get(src, [])) for k, src in
              (("calls", "calls"), ("prompt_tokens", "calls"), ("completion_tokens", "completion_tokens"),
               ("cost", "cost"), ("wall_s", ""), ("slots", ""))}
    for name, rate, sign in (("mid", p, 0), ("low", hi, -1), ("high", lo, 1)):  # a higher yield needs fewer slots
        more = slots_needed(rate)
        row = {"slots": more, "calls": more * per_slot["calls"], "wall_s": more * per_slot["wall_s"]}
        for k, v in per_call.items():
            row[k] = row["calls"] * v
        for k, v in row.items():
            v = v * (1 + sign * spread[k]) if math.isfinite(v) else v
            est.projected.setdefault(k, [0.0, 0.0, 0.0])[("mid", "low", "high").index(name)] = done[k] + v
    est.projected = {k: tuple(v) for k, v in est.projected.items()}  # type: ignore[misc]
    from .batches import cost_both_ways, turnaround

    modes = cost_both_ways(usage, prices)
    if modes and cost and "cost" in est.projected:
        est.cost_modes = {k: tuple(c * v / cost for c in est.projected["cost"]) for k, v in modes.items()}
    est.batch_seconds = turnaround(store, run_id)
    est.budget = budget or attempt_budget(recipe.engine.max_attempts, recipe.count, None)
    est.warnings = _budget_warnings(recipe, est, est.budget)
    return est


def _budget_warnings(recipe: Recipe, est: Estimate, budget: int) -> list[str]:
    e = recipe.engine
    out = []
    slots = est.projected["slots"]
    if slots[0] > budget:
        out.append(f"engine.max_attempts allows {budget} slots but about {math.ceil(slots[0])} are needed: "
                   f"raise it to at least {math.ceil(slots[2]) if math.isfinite(slots[2]) else math.ceil(slots[0] * 2)}")
    checks = (("max_tokens", e.max_tokens, "completion_tokens", lambda v: f"{v:,.0f} completion tokens"),
              ("max_cost", e.max_cost, "cost", lambda v: f"${v:,.4f}"),
              ("max_seconds", e.max_seconds, "wall_s", lambda v: f"{v:,.0f} s"))
    for name, limit, key, fmt in checks:
        if limit is not None and key in est.projected and est.projected[key][0] > limit:
            out.append(f"engine.{name} ({fmt(limit)}) is below the projected {fmt(est.projected[key][0])}: "
                       f"the run will stop early unless you raise it")
    return out


async def aestimate(recipe: Recipe, *, base_dir: str | Path = ".", output: str | Path | None = None,
                    run_dir: str | Path | None = None, pilot: int | None = None, llm: Any = None,
                    on_progress: Callable[[Progress], None] | None = None) -> Estimate:
    """Run the pilot (count `pilot`, default `default_pilot(count)`) in the run's own directory, then project."""
    from ..errors import UsageError
    from ..runs import resolve_output
    from .runner import run_identity

    k = default_pilot(recipe.count) if pilot is None else pilot
    if k <= 0:
        raise UsageError(f"--pilot must be > 0 (got {k})")
    k = min(k, recipe.count)
    _data, default_dir = resolve_output(output or recipe.output.path, recipe.name)
    run_dir = Path(run_dir) if run_dir else default_dir
    from ..generators import build_generator

    budget = attempt_budget(recipe.engine.max_attempts, recipe.count,
                            build_generator(recipe.generate, Path(base_dir)).expected_yield)
    engine = recipe.engine.model_copy(update={"max_attempts": min(budget, 5 * k + 20)})
    pilot_recipe = recipe.model_copy(update={"count": k, "engine": engine})
    samples: dict[str, list[float]] = {"calls": [], "completion_tokens": [], "cost": []}
    last: list[tuple[int, int, int, float]] = []

    def track(p: Progress) -> None:
        now = (p.slots_done, p.calls, p.completion_tokens, p.cost or 0.0)
        if last and now[0] > last[0][0]:  # slots finish one at a time; in-flight calls of others blur this a little
            samples["calls"].append(now[1] - last[0][1])
            samples["completion_tokens"].append(now[2] - last[0][2])
            samples["cost"].append(now[3] - last[0][3])
        last[:] = [now]
        if on_progress:
            on_progress(p)

    summary = await arun(pilot_recipe, base_dir=Path(base_dir), run_dir=run_dir, llm=llm, on_progress=track)
    with create_store(run_dir) as store:
        est = project(recipe, store, run_identity(recipe), k, samples, budget)
    est.pilot = summary
    return est
