"""Money: what a run costs at the prices in its model blocks, and the `engine.max_cost` budget.

Prices are per million tokens (`price: {input: 0.15, output: 0.60, cached_input: 0.075}`),
declared on `openai` model blocks anywhere in a recipe (the generator's model, a judge's
or a label checker's `model:`). A model without a price costs nothing here, and the
tables say "unpriced" rather than $0.

The budget is a cap: before each call that is not in the cache, the guard reserves what
that call can cost at most (`max_tokens` of output, and its prompt at one token per two
UTF-8 bytes until calls have come back, then at the largest tokens-per-byte seen for that
model plus 10%; tokenizers for English make about one token per four bytes) and refuses the
call when what is spent plus what is reserved would pass `max_cost`. When the call returns,
the reservation becomes its real cost. So the run stops at the first call that could cross
the budget; the spend can only pass it if a prompt had more tokens than that bound.
"""
from __future__ import annotations

import asyncio
import json
import math
from typing import Any, Iterator, Mapping, Sequence

from ..config.batch import batch_identity
from ..errors import RecipeError, SynthloomError
from ..llm.types import LLM, GenerationRequest, GenerationResult, router

PER = 1_000_000


class BudgetExhausted(SynthloomError):
    """The next call could cross `engine.max_cost`: the run stops before making it."""


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def model_identity(block: Mapping[str, Any]) -> str:
    """The identity the `openai` backend gives a model block (llm/openai_compat.py), without building it."""
    return f"openai:{_redact(str(block['base_url']).rstrip('/'))}#{block['model']}"


def _model_blocks(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        if node.get("backend") == "openai" and "base_url" in node and "model" in node:
            yield node
        for v in node.values():
            yield from _model_blocks(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _model_blocks(v)


def price_table(recipe: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """model identity -> {input, output, cached_input} for every priced model block of a recipe (as JSON)."""
    out: dict[str, dict[str, float]] = {}
    for block in _model_blocks(recipe):
        price = block.get("price")
        if price:
            ident = model_identity(block)
            p = {"input": float(price["input"]), "output": float(price["output"])}
            cached = price.get("cached_input")
            p["cached_input"] = float(p["input"] if cached is None else cached)
            if ident in out and out[ident] != p:
                raise RecipeError(f"model '{block['model']}' at {_redact(str(block['base_url']))} has two different "
                                  f"prices in this recipe ({out[ident]} and {p}): give it one price")
            out[ident] = p
            if block.get("batch_api"):  # calls through a batch API have their own identity and price
                out[batch_identity(ident, block["batch_api"])] = batch_price(price, p)
    return out


def batch_price(declared: Mapping[str, Any], live: Mapping[str, float]) -> dict[str, float]:
    """Batch prices: `batch_input`/`batch_output` as declared, else half the live ones."""
    bi, bo = declared.get("batch_input"), declared.get("batch_output")
    inp = live["input"] / 2 if bi is None else float(bi)
    return {"input": inp, "output": live["output"] / 2 if bo is None else float(bo),
            "cached_input": min(inp, live["cached_input"] / 2)}


def call_cost(price: Mapping[str, float], prompt: int, completion: int, cached_prompt: int = 0) -> float:
    cached_prompt = min(cached_prompt, prompt)
    return ((prompt - cached_prompt) * price["input"] + cached_prompt * price["cached_input"]
            + completion * price["output"]) / PER


def usage_cost(usage: Sequence[Mapping[str, Any]], prices: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Cost per (model, purpose), per model, per purpose and in total, from the store's usage rows."""
    rows, by_model, by_purpose = [], {}, {}
    total = 0.0
    for u in usage:
        price = prices.get(u["model"])
        cost = None if price is None else call_cost(price, u["prompt_tokens"], u["completion_tokens"],
                                                     u.get("cached_prompt_tokens") or 0)
        rows.append({"model": u["model"], "purpose": u["purpose"], "cost": None if cost is None else round(cost, 6)})
        if cost is not None:
            total += cost
            by_model[u["model"]] = by_model.get(u["model"], 0.0) + cost
            group = u["purpose"].split(":")[-1]  # self_instruct:judge -> judge
            by_purpose[group] = by_purpose.get(group, 0.0) + cost
    unpriced = sorted({u["model"] for u in usage if u["model"] not in prices})
    return {"prices": dict(prices), "by_model_and_purpose": rows,
            "by_model": {k: round(v, 6) for k, v in by_model.items()},
            "by_purpose": {k: round(v, 6) for k, v in by_purpose.items()},
            "total": round(total, 6) if prices else None, "unpriced_models": unpriced}


def money(x: float | None) -> str:
    """$1,234.50, $0.0123, $0.000012: two significant digits at least, four decimals below a dollar."""
    if x is None:
        return "—"
    if x == 0:
        return "$0"
    if x >= 1:
        return f"${x:,.2f}"
    decimals = max(4, 1 - math.floor(math.log10(x)))
    text = f"{x:.{decimals}f}"
    head, tail = text.split(".")
    tail = tail.rstrip("0").ljust(4, "0")
    return f"${head}.{tail}"


def _request_bytes(req: GenerationRequest) -> int:
    # a schema may travel too: as response_format, or as a system instruction when the server refuses that
    schema = 0 if req.json_schema is None else len(json.dumps(req.json_schema, default=str)) + 200
    if req.messages is not None:
        return sum(len(str(m.get("content", "")).encode()) + 8 for m in req.messages) + 16 + schema
    return len((req.prompt or "").encode()) + 8 + schema


class CostGuard:
    """Spent + reserved never passes `max_cost` (see the module docstring)."""

    def __init__(self, max_cost: float, prices: Mapping[str, Mapping[str, float]], spent: float = 0.0) -> None:
        self.max_cost = max_cost
        self.prices = prices
        self.spent = spent
        self.reserved = 0.0
        self.tokens_per_byte: dict[str, float] = {}
        self.refused: str | None = None
        self._settled: asyncio.Event | None = None  # set (and replaced) each time a call gives its reservation back

    def worst_case(self, ident: str, req: GenerationRequest) -> float:
        price = self.prices.get(ident)
        if price is None:
            return 0.0
        nbytes = _request_bytes(req)
        ratio = self.tokens_per_byte.get(ident)
        prompt = math.ceil(nbytes / 2) if ratio is None else min(nbytes, math.ceil(nbytes * ratio * 1.1) + 16)
        return (prompt * max(price["input"], price["cached_input"]) + req.max_tokens * price["output"]) / PER

    async def reserve(self, needs: list[float]) -> None:
        """Hold `needs` (one batch, all or nothing); waits while calls in flight hold what would make it fit."""
        total = sum(needs)
        while total and self.spent + self.reserved + total > self.max_cost:
            if self.reserved <= 0:  # nothing in flight will give anything back: this call could cross the budget
                self.refused = (f"the next call could cost up to {money(total)} and {money(self.spent)} of the "
                                f"engine.max_cost {money(self.max_cost)} is spent")
                raise BudgetExhausted(self.refused)
            self._settled = self._settled if self._settled is not None else asyncio.Event()
            await self._settled.wait()
        self.reserved += total

    def settle(self, ident: str, req: GenerationRequest, held: float, r: GenerationResult | None) -> None:
        self.reserved -= held
        if self._settled is not None:
            self._settled.set()
            self._settled = None
        price = self.prices.get(ident)
        if price is None or r is None:
            return
        self.spent += call_cost(price, r.prompt_tokens, r.completion_tokens, r.cached_prompt_tokens)
        if r.prompt_tokens:
            ratio = r.prompt_tokens / _request_bytes(req)
            self.tokens_per_byte[ident] = max(ratio, self.tokens_per_byte.get(ident, 0.0))


class BudgetedLLM:
    """An LLM that asks the guard before each call (between the call cache and the backend);
    `Routed`, so the cache above it keys a pool's calls by member."""

    def __init__(self, llm: LLM, guard: CostGuard) -> None:
        self._llm = llm
        self._guard = guard
        self._route = router(llm)

    @property
    def identity(self) -> str:
        return self._llm.identity

    @property
    def inner(self) -> Any:
        return self._llm

    def for_request(self, req: GenerationRequest) -> LLM:
        return self._route(req)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        idents = [self._route(r).identity for r in requests]
        held = [self._guard.worst_case(i, r) for i, r in zip(idents, requests)]
        await self._guard.reserve(held)
        results: list[GenerationResult] | None = None
        try:
            results = await self._llm.generate(requests)
        finally:
            for i, (ident, req, h) in enumerate(zip(idents, requests, held)):
                self._guard.settle(ident, req, h, None if results is None else results[i])
        return results

    async def aclose(self) -> None:
        await self._llm.aclose()


def check_budget(max_cost: float | None, prices: Mapping[str, Any]) -> None:
    if max_cost is not None and not prices:
        raise RecipeError("engine.max_cost is set but no model has a price: add `price: {input: ..., output: ...}` "
                          "(per million tokens) to the model block(s), or remove max_cost")


def budgeted(max_cost: float | None, prices: Mapping[str, Any], spent: float):
    """A function that puts an LLM behind the run's one cost guard (or leaves it as it is without a budget)."""
    if max_cost is None:
        return lambda llm: llm
    guard = CostGuard(max_cost, prices, spent)
    return lambda llm: None if llm is None else BudgetedLLM(llm, guard)
