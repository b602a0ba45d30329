"""What a quality gate is.

A gate takes a candidate record and returns it (possibly with scores added to
`meta["scores"]`) or a `Rejection` naming the stage and reason.

Stateful gates (dedup, diversity caps) keep an index of accepted records:
`prime()` rebuilds it from the store when a run resumes, `commit()` adds a
record once every gate has accepted it. The engine runs stateful gates one
candidate at a time (under a lock), after the stateless ones, so a check and its
commit see a consistent index.

What a gate may ask of whoever runs it is on its `GateContext`, typed: the run's
target count, the user's task and examples, and `model(config)`, the model for the gate's own `model:` block
(a `ModelGate` declares that block; the engine hands back a client that goes
through the run's call cache, meter and cost guard). Nothing is patched onto a gate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, runtime_checkable

from ..llm.types import LLM
from ..records import Record, Rejection

if TYPE_CHECKING:
    from ..config.models import ModelConfig


class GateModels:
    """The models gates name in their own `model:` blocks: each distinct block built once, closed together.

    `build` makes the backend (default `llm.factory.build_backend`; in a Ray run, one whose calls run on
    the workers); `wrap` puts it behind what every call of the run goes through (in a run: the call
    cache, the usage meter and the cost guard), so a judge on its own server is replayed and billed
    like the generator. Outside a run both are plain: the backend as it is.
    """

    def __init__(self, build: Callable[[ModelConfig], LLM] | None = None,
                 wrap: Callable[[LLM], LLM] | None = None) -> None:
        self._build = build
        self._wrap = wrap
        self._open: dict[str, tuple[LLM, LLM]] = {}  # the block as JSON -> (backend, what gates get)

    def get(self, config: ModelConfig) -> LLM:
        """The model for one `model:` block (built the first time; no await, so two slots never both build)."""
        key = config.model_dump_json()
        entry = self._open.get(key)
        if entry is None:
            if self._build is None:
                from ..llm.factory import build_backend

                backend = build_backend(config)
            else:
                backend = self._build(config)
            entry = self._open[key] = (backend, self._wrap(backend) if self._wrap else backend)
        return entry[1]

    @property
    def backends(self) -> list[LLM]:
        """The backends opened so far (for the concurrency report)."""
        return [backend for backend, _ in self._open.values()]

    async def aclose(self) -> None:
        opened, self._open = self._open, {}
        for backend, _ in opened.values():
            await backend.aclose()


@dataclass
class GateContext:
    """What a gate may ask of whoever runs it (the engine, `quality.apply`, a test)."""

    llm: LLM | None = None  # the model a judge uses when it names none (may differ from the generator's)
    seed: int = 0
    target: int | None = None  # how many accepted records the run asks for (None outside a run)
    models: GateModels = field(default_factory=GateModels)
    # the user's task, for judges that speak of it: the recipe's instruction and its few-shot examples as
    # records (`Generator.shown_records`); empty outside a run
    task: str | None = None
    examples: tuple[Any, ...] = ()

    def model(self, config: ModelConfig | None = None) -> LLM | None:
        """The model for a gate: the one its own `model:` block names (None: the run's, `llm`)."""
        return self.llm if config is None else self.models.get(config)


@runtime_checkable
class ModelGate(Protocol):
    """A gate that asks a model. `own_model` is its recipe's `model:` block (None: the run's model);
    it gets the model from `ctx.model(self.own_model)`. The engine opens every gate's `own_model`
    before the first slot, so a bad block fails before any work."""

    own_model: ModelConfig | None


class Gate(Protocol):
    name: str
    stage: str  # validate | filter | dedup | judge | label | diversity
    stateful: bool

    def prime(self, accepted: Iterable[Record]) -> None: ...

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection: ...

    def commit(self, rec: Record) -> None: ...


async def admit(rec: Record, stateful: list[Gate], ctx: GateContext) -> Record | Rejection:
    """The final say of the stateful gates on one record: a rejection, or the record committed to each.

    Callers run this for one candidate at a time, so a check and its commit see the same index.
    """
    for g in stateful:
        out = await g.check(rec, ctx)
        if isinstance(out, Rejection):
            return out
        rec = out
    for g in stateful:
        g.commit(rec)
    return rec


class StatelessGate:
    """Convenience base for gates with no index: override `check`."""

    name = "gate"
    stage = "filter"
    stateful = False

    def prime(self, accepted: Iterable[Record]) -> None:
        return None

    def commit(self, rec: Record) -> None:
        return None


def field_value(rec: Record, name: str) -> Any:
    """A record's field by name: its data first, then its meta (where techniques keep sources)."""
    if name in rec.data:
        return rec.data[name]
    return rec.meta.get(name)
