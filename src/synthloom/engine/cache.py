"""The call cache in front of a model: content-addressed, stored in the run store."""
from __future__ import annotations

from typing import Sequence

import orjson

from ..llm.types import LLM, GenerationRequest, GenerationResult, cache_key, result_to_json, router
from ..runs.store import RunStore


class UsageMeter:
    """Calls, cache hits and tokens per (model, purpose), drained into the store with each slot."""

    def __init__(self, prices: dict | None = None) -> None:
        self.pending: dict[tuple[str, str], list[int]] = {}
        self.prices = prices or {}  # model identity -> price per million tokens (engine/cost.py)
        self.cost = 0.0
        self.completion_tokens = 0
        self.prompt_tokens = 0
        self.calls = 0
        self.cache_hits = 0

    def add(self, model: str, purpose: str, r: GenerationResult) -> None:
        row = self.pending.setdefault((model, purpose), [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += int(r.cached)
        self.calls += 1
        if r.cached:  # a replayed call costs nothing: count the hit, not the tokens
            self.cache_hits += 1
            return
        row[2] += r.prompt_tokens
        row[3] += r.completion_tokens
        row[4] += r.cached_prompt_tokens
        price = self.prices.get(model)
        if price is not None:
            from .cost import call_cost

            self.cost += call_cost(price, r.prompt_tokens, r.completion_tokens, r.cached_prompt_tokens)
        self.prompt_tokens += r.prompt_tokens
        self.completion_tokens += r.completion_tokens

    def drain(self) -> dict[tuple[str, str], list[int]]:
        out, self.pending = self.pending, {}
        return out


class CachedLLM:
    """Wraps an LLM: answers repeated requests from the store, records new ones.

    The key is the identity of the model that serves the request (a pool member,
    when the LLM is `Routed`) plus the full request, so changing the model,
    a prompt, a sampling parameter or the seed makes a new call. An `LLM` and a
    `Routed` itself: it passes the routing of what it wraps through.
    """

    def __init__(self, llm: LLM, store: RunStore, meter: UsageMeter, writer=None) -> None:
        self._llm = llm
        self._route = router(llm)
        self._store = store
        self._meter = meter
        self._writer = writer  # a BatchWriter: new calls are group-committed with the slots

    @property
    def identity(self) -> str:
        return self._llm.identity

    @property
    def inner(self):
        return self._llm

    def for_request(self, req: GenerationRequest) -> LLM:
        return self._route(req)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        idents = [self._route(r).identity for r in requests]
        keys = [cache_key(i, r) for i, r in zip(idents, requests)]
        hits = self._store.get_calls(keys)
        if self._writer is not None and self._writer.pending_calls:
            for k in keys:
                row = self._writer.pending_calls.get(k)
                if row is not None and k not in hits:
                    hits[k] = orjson.loads(row[3])
        results: list[GenerationResult | None] = [None] * len(requests)
        misses: list[int] = []
        for i, k in enumerate(keys):
            h = hits.get(k)
            if h is None:
                misses.append(i)
            else:
                results[i] = GenerationResult(cached=True, **h)
        if misses:
            fresh = await self._llm.generate([requests[i] for i in misses])
            rows = []
            for i, r in zip(misses, fresh):
                results[i] = r
                if r.finish_reason != "error":  # a model's answer, even an unparsable one, is worth replaying
                    rows.append((keys[i], idents[i], requests[i].purpose, result_to_json(r),
                                 r.prompt_tokens, r.completion_tokens, r.latency_s))
            if rows:
                if self._writer is not None:
                    self._writer.add_calls(rows)
                else:
                    self._store.put_calls(rows)
        for req, ident, r in zip(requests, idents, results):
            self._meter.add(ident, req.purpose, r)
        return results  # type: ignore[return-value]

    async def aclose(self) -> None:
        await self._llm.aclose()
