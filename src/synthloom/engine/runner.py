"""The run loop: slots in flight until enough records pass every gate or a budget runs out.

`arun` is three steps. Setup (`_open_backend`, `_Run.__init__`, `_Run.open_gate_models`): the
model, the run store, the call cache, meter and cost guard in front of every model, and the
contexts the generator and the gates see. The slot (`_Run.run_slot`): produce candidates,
run the stateless gates, then under one lock the stateful gates, acceptance and the slot's
commit. The finish (`_Run.finish`, `_Run.summary`): flush, end the run in the store, close
what the run opened. Up to `engine.concurrency` workers take slots until `budget_left` says
stop (the target, or a budget: attempts, tokens, seconds, money).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..config.recipe import Recipe
from ..generators.base import GenContext, Generator
from ..llm.adaptive import limit_report, limit_text
from ..llm.types import LLM
from ..quality.base import Gate, GateContext, GateModels, ModelGate, admit
from ..records import Record, Rejection, content_hash
from ..runs import RunStore, create_store
from .batches import attach as attach_batches
from .cache import CachedLLM, UsageMeter
from .cost import BudgetExhausted, budgeted, check_budget, price_table, usage_cost
from .projection import attempt_budget, projection
from .shards import Shard
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


def run_identity(recipe: Recipe, shard: Shard | None = None) -> str:
    """Everything that changes what a slot produces; not the count, budgets or output. A shard (`--shard i/N`)
    is a run of its own: its run directory cannot be resumed as another shard or as the whole run."""
    dumped = recipe.model_dump(mode="json", by_alias=True)
    ident = {k: dumped[k] for k in ("generate", "quality", "model")}
    if dumped.get("checks") is not None:
        ident["checks"] = dumped["checks"]
    ident["seed"] = dumped["engine"]["seed"]
    if shard is not None:
        ident["shard"] = str(shard)
    return content_hash(ident, 8)


class AcceptedView(Sequence[Record]):
    """The run's accepted records as `GenContext.accepted` sees them, without holding them: the count is
    kept, and only a technique that reads the records (a few steer by what they accepted) makes the view
    load them from the store and keep the list from then on. A run of any other technique stays flat in
    memory however many records it makes."""

    def __init__(self, store: RunStore, run_id: str, writer: "BatchWriter", count: int) -> None:
        self.store, self.run_id, self.writer, self.count = store, run_id, writer, count
        self.items: list[Record] | None = None

    def _load(self) -> list[Record]:
        if self.items is None:
            self.writer.flush()  # what the writer holds is in the store after this
            self.items = self.store.accepted_records(self.run_id)
        return self.items

    def extend(self, records: list[Record]) -> None:
        self.count += len(records)
        if self.items is not None:
            self.items.extend(records)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: Any) -> Any:
        return self._load()[i]

    def __iter__(self) -> Iterator[Record]:
        return iter(self._load())


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
    shard: Shard | str | None = None,
) -> RunSummary:
    """Run `recipe` into `run_dir`; with `shard` (i/N) only the slots with slot % N == i, towards
    this shard's share of the count (engine/shards.py)."""
    from ..generators import build_generator
    from ..quality import build_gates
    from ..quality.checks import checked_gates

    generator = build_generator(recipe.generate, base_dir)
    gates = build_gates(recipe.quality, base_dir) + checked_gates(recipe, generator)
    check_budget(recipe.engine.max_cost, price_table(recipe.model_dump(mode="json", by_alias=True)))
    owns_llm = llm is None
    llm, remote, store = await _open_backend(recipe, run_dir, llm)
    run = _Run(recipe, run_dir, generator, gates, store, llm, judge_llm, owns_llm, remote, on_progress,
               Shard.parse(shard))
    status = "failed"
    try:
        run.open_gate_models()
        await run.loop()
        status = "complete" if len(run.accepted) >= run.target else "incomplete"
    finally:
        await run.finish(status)
    return run.summary()


async def _open_backend(recipe: Recipe, run_dir: Path, llm: Any) -> tuple[LLM, Any, RunStore]:
    """(the run's model, the Ray executor or None, the run store); on a failure, closes what it opened."""
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
        return llm, remote, create_store(run_dir)
    except BaseException:
        if owns_llm:
            await llm.aclose()
        if remote is not None:
            await remote.aclose()
        raise


class _Run:
    """One run while its slots are in flight: what setup opened, the counters, the stop reason."""

    def __init__(self, recipe: Recipe, run_dir: Path, generator: Generator, gates: list[Gate], store: RunStore,
                 llm: LLM, judge_llm: LLM | None, owns_llm: bool, remote: Any,
                 on_progress: Callable[[Progress], None] | None, shard: Shard | None = None) -> None:
        self.recipe, self.run_dir, self.generator, self.store = recipe, run_dir, generator, store
        self.gates, self.stateful = gates, [g for g in gates if g.stateful]
        self.base_llm, self.judge_llm, self.owns_llm, self.remote = llm, judge_llm, owns_llm, remote
        self.on_progress = on_progress
        self.shard = shard
        self.run_id = run_identity(recipe, shard)
        recipe_json = recipe.model_dump(mode="json", by_alias=True)
        if shard is not None:
            recipe_json["_shard"] = str(shard)  # read by `synthloom merge` (engine/shards.py)
        self.resumed = store.begin_run(self.run_id, recipe.name, recipe_json, versions())
        self.prices = price_table(recipe_json)
        self.prior_cost = usage_cost(store.usage(self.run_id), self.prices)["total"] or 0.0
        self.prior_tokens = sum(u["completion_tokens"] for u in store.usage(self.run_id))
        self.meter = UsageMeter(self.prices)
        self.writer = BatchWriter(store, self.run_id)
        guard = budgeted(recipe.engine.max_cost, self.prices, self.prior_cost)
        cached = CachedLLM(guard(llm), store, self.meter, self.writer)  # every model: cached, metered, budgeted
        self.metered = lambda backend: CachedLLM(guard(backend), store, self.meter, self.writer)
        self.gate_models = GateModels(build=self._build_gate_backend, wrap=self.metered)

        self.accepted = AcceptedView(store, self.run_id, self.writer, store.accepted_count(self.run_id))
        for g in self.stateful:
            g.prime(store.iter_accepted(self.run_id))  # streamed: a gate keeps what it needs (quality/dedup.py)
        seed, self.target = recipe.engine.seed, recipe.count if shard is None else shard.target(recipe.count)
        self.ctx = GenContext(llm=cached, seed=seed, accepted=self.accepted, target=self.target,
                              models=self.gate_models)
        self.gctx = GateContext(llm=self.metered(judge_llm) if judge_llm is not None else cached, seed=seed,
                                target=self.target, models=self.gate_models,
                                task=getattr(recipe.generate, "instruction", None),
                                examples=tuple(generator.shown_records()))

        # the run's slot budget (of the whole count: a shard takes its slots out of the same range)
        self.max_slots = attempt_budget(recipe.engine.max_attempts, recipe.count, generator.expected_yield)
        owned = range(self.max_slots) if shard is None else range(shard.index, self.max_slots, shard.count)
        self.slot_budget = len(owned)
        done, n_done = store.done_bitmap(self.run_id, self.max_slots)
        self.first_slots, self.first_accepted, self.projected = n_done, len(self.accepted), False
        self.progress = Progress(target=self.target, accepted=len(self.accepted), slots_done=n_done,
                                 slots_budget=self.slot_budget, cost=self.prior_cost if self.prices else None)
        self.stop: dict[str, str] = {}
        self.lock = asyncio.Lock()
        self.started = time.perf_counter()
        self.wall = 0.0
        self.pending_slots = (s for s in owned if not done[s >> 3] >> (s & 7) & 1)
        self.requeued: list[int] = []  # slots whose Ray worker died mid-slot: redone, their finished calls from the cache
        self.pacer = attach_batches(self)  # None unless a model calls through a batch API (engine/batches.py)

    def _build_gate_backend(self, cfg: Any) -> LLM:
        from ..llm.factory import build_backend

        backend = build_backend(cfg)
        attach_batches(self, backend)
        return self.remote.wrap(backend, [cfg]) if self.remote is not None else backend

    def open_gate_models(self) -> None:
        """Every gate that names its own model gets it opened now: a bad model block fails before any work."""
        for g in self.gates:
            if isinstance(g, ModelGate) and g.own_model is not None:
                self.gate_models.get(g.own_model)

    def budget_left(self) -> bool:
        engine = self.recipe.engine
        if len(self.accepted) >= self.target:
            self.stop.setdefault("reason", "target")
        elif engine.max_tokens and self.prior_tokens + self.meter.completion_tokens >= engine.max_tokens:
            self.stop.setdefault("reason", "max_tokens")
        elif engine.max_seconds and time.perf_counter() - self.started >= engine.max_seconds:
            self.stop.setdefault("reason", "max_seconds")
        return not self.stop

    async def run_slot(self, slot: int) -> None:
        items = await self.generator.produce(slot, self.ctx)
        rejected: list[Rejection] = [item for item in items if isinstance(item, Rejection)]
        survivors: list[Record] = []
        for rec in items:
            if isinstance(rec, Rejection):
                continue
            out = await self.screen(rec)
            (rejected if isinstance(out, Rejection) else survivors).append(out)
        async with self.lock:  # stateful gates, acceptance and the slot's commit are one atomic step
            kept: list[Record] = []
            for rec in survivors:
                if len(self.accepted) + len(kept) >= self.target:
                    rejected.append(Rejection.of(rec, "surplus", "target_reached", "the target count was already met"))
                    continue
                out = await admit(rec.with_meta(slot=slot), self.stateful, self.gctx)
                (rejected if isinstance(out, Rejection) else kept).append(out)
            self.writer.add_slot(slot, kept, rejected, self.meter.drain())
            self.accepted.extend(kept)
        self.report(rejected)

    async def screen(self, rec: Record) -> Record | Rejection:
        """A candidate through the gates in recipe order (a cheap dedup before an LLM judge saves the judge's
        call); stateful gates only look here, and decide for good under the lock in `run_slot`."""
        for g in self.gates:
            out = await g.check(rec, self.gctx)
            if isinstance(out, Rejection):
                return out
            if not g.stateful:
                rec = out
        return rec

    def report(self, rejected: list[Rejection]) -> None:
        """The progress after a slot, and once, early, a warning when the budget cannot reach the target."""
        p, meter = self.progress, self.meter
        p.accepted = len(self.accepted)
        p.rejected += sum(1 for r in rejected if r.stage != "surplus")
        p.slots_done += 1
        p.completion_tokens = meter.completion_tokens
        p.calls, p.cache_hits = meter.calls, meter.cache_hits
        p.cost = self.prior_cost + meter.cost if self.prices else None
        p.limit = limit_text(self.backends())
        if not self.projected:
            note = projection(len(self.accepted) - self.first_accepted, p.slots_done - self.first_slots,
                              self.target - self.first_accepted, self.slot_budget - self.first_slots)
            if note is not None:
                self.projected = True
                log.warning("%s", note)
        if self.on_progress:
            self.on_progress(p)

    def backends(self) -> list[Any]:
        return [self.base_llm, self.judge_llm, *self.gate_models.backends]

    async def worker(self) -> None:
        while self.budget_left():
            slot = self.requeued.pop() if self.requeued else next(self.pending_slots, None)
            if slot is None:  # the last slots are in flight; one whose Ray worker dies is redone by its worker
                return
            try:
                await (self.run_slot(slot) if self.pacer is None else self.pacer.run_slot(self.run_slot, slot))
            except BudgetExhausted as exc:  # the slot stays undone: a resume redoes it, its calls from the cache
                self.stop.setdefault("reason", "max_cost")
                self.stop.setdefault("detail", str(exc))
                return
            except WorkerLost:
                self.requeued.append(slot)

    async def loop(self) -> None:
        if self.on_progress:
            self.on_progress(self.progress)
        self.budget_left()
        n = min(self.slot_budget, self.recipe.engine.concurrency or default_concurrency(self.base_llm))
        workers = [asyncio.create_task(self.worker()) for _ in range(n)]
        try:
            await asyncio.gather(*workers)
            self.stop.setdefault("reason", "max_attempts")
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise

    async def finish(self, status: str) -> None:
        """Write what is pending, end the run in the store, close what the run opened."""
        self.writer.add_usage(self.meter.drain())
        self.writer.flush()
        self.wall = time.perf_counter() - self.started
        self.store.end_run(self.run_id, status, self.wall)
        try:
            if self.owns_llm:
                await self.base_llm.aclose()
            await self.gate_models.aclose()
        finally:
            if self.remote is not None:
                await self.remote.aclose()

    def summary(self) -> RunSummary:
        store, meter = self.store, self.meter
        summary = RunSummary(
            run_id=self.run_id,
            run_dir=self.run_dir,
            accepted=len(self.accepted),
            rejected=self.progress.rejected,
            target=self.target,
            stopped_by=self.stop.get("reason", "target"),
            wall_s=self.wall,
            resumed=self.resumed,
            funnel=store.funnel(self.run_id),
            rejections=[r for r in store.rejection_counts(self.run_id) if r[0] != "surplus"],
            calls=meter.calls,
            cache_hits=meter.cache_hits,
            completion_tokens=meter.completion_tokens,
            generator=self.generator.describe(),
            cost=self.prior_cost + meter.cost if self.prices else None,
            stop_detail=self.stop.get("detail", ""),
            concurrency=limit_report(self.backends()),
        )
        store.close()
        return summary
