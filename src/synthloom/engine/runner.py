"""The run loop: slots in flight until enough records pass every gate or a budget runs out."""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config.recipe import Recipe
from ..generators.base import GenContext
from ..quality.base import GateContext, admit
from ..records import Record, Rejection, content_hash
from .cache import CachedLLM, UsageMeter
from .projection import default_attempts, projection
from .store import RunStore
from .ray_executor import WorkerLost
from .writer import BatchWriter

log = logging.getLogger(__name__)


@dataclass
class Progress:
    target: int
    accepted: int = 0
    rejected: int = 0
    slots_done: int = 0
    slots_budget: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cache_hits: int = 0
    cost: float | None = None  # at the recipe's prices; None when no model has one
    limit: str = ""  # adaptive concurrency now, e.g. "12/64" ("" for backends without one)
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class RunSummary:
    run_id: str
    run_dir: Path
    accepted: int
    rejected: int
    target: int
    stopped_by: str  # target | max_attempts | max_tokens | max_seconds | max_cost
    wall_s: float
    resumed: bool
    funnel: dict[str, int]
    rejections: list[tuple[str, str, int]]
    calls: int
    cache_hits: int
    completion_tokens: int
    output_path: Path | None = None
    generator: dict[str, Any] = field(default_factory=dict)
    cost: float | None = None
    stop_detail: str = ""
    concurrency: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.accepted >= self.target


def default_concurrency(llm: Any) -> int:
    """Slots in flight when the recipe does not say: what the backend decodes at once (llamacpp's
    batch width), else 8."""
    return getattr(llm, "concurrency", None) or 8


def run_identity(recipe: Recipe) -> str:
    """Everything that changes what a slot produces; not the count, budgets or output."""
    dumped = recipe.model_dump(mode="json", by_alias=True)
    ident = {k: dumped[k] for k in ("generate", "quality", "model")}
    ident["seed"] = dumped["engine"]["seed"]
    return content_hash(ident, 8)


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in ("synthloom", "llama_cpp_python", "llguidance", "aiohttp", "pydantic"):
        try:
            out[pkg] = metadata.version(pkg.replace("_", "-"))
        except metadata.PackageNotFoundError:
            pass
    return out


async def arun(
    recipe: Recipe,
    *,
    base_dir: Path,
    run_dir: Path,
    llm: Any = None,
    judge_llm: Any = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunSummary:
    from ..generators import build_generator
    from ..quality import build_gates

    generator = build_generator(recipe.generate, base_dir)
    gates = build_gates(recipe.quality, base_dir)
    gates += list(getattr(generator, "gates", lambda: [])())
    stateful = [g for g in gates if g.stateful]

    owns_llm = llm is None
    if llm is None:  # before the run folder exists: a bad model path leaves nothing behind
        from ..llm.factory import build_llm

        llm = build_llm(recipe.models())
    remote = None  # engine.executor: ray -> the model calls run on Ray workers (ray_executor.py)
    try:
        if recipe.engine.executor == "ray":
            from .ray_executor import RayExecutor

            remote = RayExecutor.start(recipe.engine.ray)
            if owns_llm:
                llm = remote.wrap(llm, recipe.models())
        store = RunStore(run_dir / "store.sqlite")
    except BaseException:
        if owns_llm:
            await llm.aclose()
        if remote is not None:
            await remote.aclose()
        raise
    run_id = run_identity(recipe)
    recipe_json = recipe.model_dump(mode="json", by_alias=True)
    resumed = store.begin_run(run_id, recipe.name, recipe_json, versions())
    base_llm = llm
    from ..llm.adaptive import limit_report, limit_text
    from .cost import BudgetExhausted, budgeted, check_budget, price_table, usage_cost

    prices = price_table(recipe_json)
    check_budget(recipe.engine.max_cost, prices)
    prior_cost = usage_cost(store.usage(run_id), prices)["total"] or 0.0
    meter = UsageMeter(prices)
    guard = budgeted(recipe.engine.max_cost, prices, prior_cost)
    writer = BatchWriter(store, run_id)
    cached = CachedLLM(guard(base_llm), store, meter, writer)

    accepted: list[Record] = store.accepted_records(run_id)
    done = store.done_slots(run_id)
    for g in stateful:
        g.prime(accepted)
    ctx = GenContext(llm=cached, seed=recipe.engine.seed, accepted=accepted, extras={"target": recipe.count})
    gctx = GateContext(llm=CachedLLM(guard(judge_llm), store, meter, writer) if judge_llm is not None else cached,
                       seed=recipe.engine.seed, extras={"target": recipe.count})
    gate_llms = []  # a gate that names its own model (a judge, a label checker) gets it cached and metered too
    for g in gates:
        cfg = getattr(g, "model_config", None)
        if cfg is not None and getattr(g, "llm", None) is None:
            from ..llm.factory import build_backend

            gate_llms.append(remote.wrap(build_backend(cfg), [cfg]) if remote else build_backend(cfg))
            g.llm = CachedLLM(guard(gate_llms[-1]), store, meter, writer)

    target = recipe.count
    max_slots = recipe.engine.max_attempts or default_attempts(target, getattr(generator, "expected_yield", None))
    first_slots, first_accepted, projected = len(done), len(accepted), False
    progress = Progress(target=target, accepted=len(accepted), slots_done=len(done), slots_budget=max_slots,
                        cost=prior_cost if prices else None)
    stop: dict[str, str] = {}
    lock = asyncio.Lock()
    started = time.perf_counter()
    pending_slots = iter([s for s in range(max_slots) if s not in done])
    requeued: list[int] = []  # slots whose Ray worker died mid-slot: redone, their finished calls from the cache
    prior_tokens = sum(u["completion_tokens"] for u in store.usage(run_id))

    def budget_left() -> bool:
        if len(accepted) >= target:
            stop.setdefault("reason", "target")
        elif recipe.engine.max_tokens and prior_tokens + meter.completion_tokens >= recipe.engine.max_tokens:
            stop.setdefault("reason", "max_tokens")
        elif recipe.engine.max_seconds and time.perf_counter() - started >= recipe.engine.max_seconds:
            stop.setdefault("reason", "max_seconds")
        return not stop

    async def run_slot(slot: int) -> None:
        items = await generator.produce(slot, ctx)
        candidates: list[Record] = []
        rejected: list[Rejection] = []
        for item in items:
            (rejected if isinstance(item, Rejection) else candidates).append(item)
        survivors: list[Record] = []
        for rec in candidates:
            # gates run in recipe order, so a cheap dedup before an LLM judge saves the judge's call;
            # stateful gates only look here, and decide for good under the lock below
            for g in gates:
                out = await g.check(rec, gctx)
                if isinstance(out, Rejection):
                    rejected.append(out)
                    break
                if not g.stateful:
                    rec = out
            else:
                survivors.append(rec)
        async with lock:  # stateful gates, acceptance and the slot's commit are one atomic step
            kept: list[Record] = []
            for rec in survivors:
                if len(accepted) + len(kept) >= target:
                    rejected.append(Rejection.of(rec, "surplus", "target_reached", "the target count was already met"))
                    continue
                out = await admit(rec.with_meta(slot=slot), stateful, gctx)
                (rejected if isinstance(out, Rejection) else kept).append(out)
            writer.add_slot(slot, kept, rejected, meter.drain())
            accepted.extend(kept)
        progress.accepted = len(accepted)
        progress.rejected += sum(1 for r in rejected if r.stage != "surplus")
        progress.slots_done += 1
        progress.completion_tokens = meter.completion_tokens
        progress.calls, progress.cache_hits = meter.calls, meter.cache_hits
        progress.cost = prior_cost + meter.cost if prices else None
        progress.limit = limit_text([base_llm, judge_llm, *gate_llms])
        nonlocal projected
        if not projected:  # say early, once, when the budget cannot reach the target at this yield
            note = projection(len(accepted) - first_accepted, progress.slots_done - first_slots,
                              target - first_accepted, max_slots - first_slots)
            if note is not None:
                projected = True
                log.warning("%s", note)
        if on_progress:
            on_progress(progress)

    async def worker() -> None:
        while budget_left():
            slot = requeued.pop() if requeued else next(pending_slots, None)
            if slot is None:  # the last slots are in flight; one whose Ray worker dies is redone by its worker
                return
            try:
                await run_slot(slot)
            except BudgetExhausted as exc:  # the slot stays undone: a resume redoes it, its calls from the cache
                stop.setdefault("reason", "max_cost")
                stop.setdefault("detail", str(exc))
                return
            except WorkerLost:
                requeued.append(slot)

    status = "failed"
    try:
        if on_progress:
            on_progress(progress)
        budget_left()
        workers = [asyncio.create_task(worker()) for _ in range(recipe.engine.concurrency or default_concurrency(base_llm))]
        try:
            await asyncio.gather(*workers)
            stop.setdefault("reason", "max_attempts")
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        status = "complete" if len(accepted) >= target else "incomplete"
    finally:
        writer.add_usage(meter.drain())
        writer.flush()
        wall = time.perf_counter() - started
        store.end_run(run_id, status, wall)
        if owns_llm:
            await base_llm.aclose()
        for gate_llm in gate_llms:
            await gate_llm.aclose()
        if remote is not None:
            await remote.aclose()
    summary = RunSummary(
        run_id=run_id,
        run_dir=run_dir,
        accepted=len(accepted),
        rejected=progress.rejected,
        target=target,
        stopped_by=stop.get("reason", "target"),
        wall_s=wall,
        resumed=resumed,
        funnel=store.funnel(run_id),
        rejections=[r for r in store.rejection_counts(run_id) if r[0] != "surplus"],
        calls=meter.calls,
        cache_hits=meter.cache_hits,
        completion_tokens=meter.completion_tokens,
        generator=generator.describe(),
        cost=prior_cost + meter.cost if prices else None,
        stop_detail=stop.get("detail", ""),
        concurrency=limit_report([base_llm, judge_llm, *gate_llms]),
    )
    store.close()
    return summary
