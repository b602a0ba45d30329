"""What a technique is: a function from a slot and a context to candidate records.

The engine calls `produce(slot, ctx)` for slot = 0, 1, 2, ... with up to
`concurrency` slots in flight, until enough records are accepted or a budget
runs out. A slot is one attempt; everything random in it must derive from
`ctx.rng(slot)` and `ctx.request_seed(slot, k)` so that a re-run makes the same
requests and replays them from the call cache.

`produce` returns candidates (`Record`) and early rejections (`Rejection`,
e.g. unparsable output, a technique's own filter). Quality gates then see
each candidate `Record`: the recipe's, then the technique's own (`gates()`).

A technique declares that it is a `Generator` by subclassing it, and so gets the
defaults of the optional members (`gates`, `expected_yield`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from ..llm.types import LLM, GenerationResult
from ..records import Record, Rejection, content_hash

if TYPE_CHECKING:
    from ..quality.base import Gate


@dataclass
class GenContext:
    llm: LLM  # cached (and pooled) model: use this for every call
    seed: int = 0
    # accepted records so far, in acceptance order; live, the engine appends to it
    accepted: Sequence[Record] = field(default_factory=list)
    target: int | None = None  # how many accepted records the run asks for (None outside the engine)
    models: Any = None  # the run's `GateModels`: a technique's own `model:` blocks, cached and metered

    def model(self, config: Any = None) -> LLM:
        """The model of a technique's own `model:` block (`llm` when None), behind the run's call cache."""
        if config is None:
            return self.llm
        if self.models is None:  # outside the engine: the backend as it is
            from ..quality.base import GateModels

            self.models = GateModels()
        return self.models.get(config)

    def rng(self, slot: int, salt: str = "") -> random.Random:
        return random.Random(f"{self.seed}:{slot}:{salt}")

    def balanced(self, slot: int, axis: str, values: Sequence[Any]) -> Any:
        """A value per slot that covers `values` evenly: each block of len(values) slots
        takes every value once, in a seeded order (repeat a value in the list to weight it)."""
        n = len(values)
        block, pos = divmod(slot, n)
        order = list(range(n))
        random.Random(f"{self.seed}:{axis}:{block}").shuffle(order)
        return values[order[pos]]

    def request_seed(self, slot: int, k: int = 0) -> int:
        return int(content_hash([self.seed, slot, k], 4), 16) & 0x7FFFFFFF


class Generator(Protocol):
    technique: str
    # the share of slots expected to end in an accepted record, when a technique knows it is low:
    # the engine's default attempt budget grows to match (engine/projection.py); None: the usual budget
    expected_yield: float | None = None

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]: ...

    def describe(self) -> dict[str, Any]:
        """What the manifest and dataset card say about this technique: templates (name, hash), settings."""
        ...

    def gates(self) -> list[Gate]:
        """The technique's own gates (a label check, a classifier probe), run after the recipe's; none by default."""
        return []

    def shown_records(self) -> tuple[Any, ...]:
        """The recipe's few-shot examples in the form this technique's records take (what an LLM judge
        shows as good records, so that it speaks of the user's task); none by default."""
        return ()


def parse_object(result: GenerationResult, meta: dict[str, Any],
                 schema: Any = None) -> tuple[dict[str, Any] | None, Rejection | None]:
    """The JSON object a structured call returned (``result.parsed``), or the parse-stage rejection.

    The backend has read the reply already (``llm/jsontext``); ``error_kind`` says why there is
    no value: the call failed ("backend"), or the reply was cut off or is not JSON. ``schema``: the
    schema as the user wrote it; with it, a list closed at a retry rung's own item cap (not a bound of
    ``schema``) is kept as a shorter list of complete items (``truncation.cut_against``).
    """
    value = result.parsed
    if value is None:
        if result.finish_reason == "length":
            return None, Rejection(stage="parse", reason="truncated",
                                   detail=f"cut off by max_tokens after {result.completion_tokens} tokens: "
                                          f"{result.text[-120:]!r}", raw=result.text, meta=meta)
        if result.error_kind == "backend":
            return None, Rejection(stage="parse", reason="backend_error", detail=str(result.error)[:300],
                                   raw=result.text, meta=meta)
        return None, Rejection(stage="parse", reason="invalid_json", detail=f"not JSON: {result.text[:200]!r}",
                               raw=result.text, meta=meta)
    if not isinstance(value, dict):
        return None, Rejection(stage="parse", reason="not_an_object", detail=f"got {type(value).__name__}",
                               raw=result.text, meta=meta)
    cut = _cut(result, value, schema)
    if cut:
        from dataclasses import replace

        return None, truncated_rejection(replace(result, truncated=cut), value, meta)
    return _no_placeholder(result, value, meta)


def _cut(result: GenerationResult, value: Any, schema: Any) -> tuple[str, ...]:
    cut = tuple(getattr(result, "truncated", None) or ())
    if cut and schema is not None:
        from ..llm.truncation import cut_against

        cut = cut_against(cut, value, schema)
    return cut


def _no_placeholder(result: GenerationResult, value: Any, meta: dict[str, Any]) -> tuple[Any, Rejection | None]:
    """The value, or a `placeholder_value` rejection naming the fields that hold "XYZ", "${:d}", "John Doe"..."""
    from ..quality.canned import placeholder_paths

    placeholders = placeholder_paths(value)
    if placeholders:
        from ..llm.truncation import value_at

        shown = ", ".join(f"{p}={value_at(value, p)!r}" for p in placeholders[:4])
        return None, Rejection(stage="validate", reason="placeholder_value",
                               detail=f"placeholder instead of data: {shown}", data=value, raw=result.text,
                               meta=meta)
    return value, None


def parse_value(result: GenerationResult, meta: dict[str, Any], schema: Any = None) -> tuple[Any, Rejection | None]:
    """Any JSON value a structured call returned (a schema whose root is an array, a string or a union),
    or the parse-stage rejection: `parse_object`, less its "must be an object" rule."""
    value, rejection = parse_object(result, meta, schema)
    if rejection is None or rejection.reason != "not_an_object":
        return value, rejection
    value = result.parsed
    cut = [p for p in _cut(result, value, schema) if p != "(root)" or not isinstance(value, list)]
    if cut:
        # a root array closed at its item bound is a shorter list of complete items, not a value cut off
        # mid-way (a list of line items with 2 lines instead of 5): only what is cut inside it is rejected
        from dataclasses import replace

        return None, truncated_rejection(replace(result, truncated=tuple(cut)), value, meta)
    return _no_placeholder(result, value, meta)


def truncated_rejection(result: GenerationResult, value: Any, meta: dict[str, Any]) -> Rejection:
    """A value the decoder closed at its maxLength/maxItems bound (``result.truncated``): cut off, not complete."""
    paths = list(result.truncated)
    tail = ""
    from ..llm.truncation import value_at

    cut = value_at(value, paths[0])
    if isinstance(cut, str):
        tail = f": ...{cut[-60:]!r}"
    elif isinstance(cut, list):
        tail = f": {len(cut)} items"
    detail = (f"{', '.join(paths)} cut off at the schema's length bound{tail}"
              " (the model wanted to write more; the decoder closed the value)")
    return Rejection(stage="validate", reason="truncated_value", detail=detail, data=value, raw=result.text,
                     meta={**meta, "truncated_fields": paths})
