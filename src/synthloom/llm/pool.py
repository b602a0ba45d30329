"""A pool of models: one dataset from several models, each request routed to one member by weight.

Routing is a pure function of the request (its cache payload, seed included), so a
re-run sends every request to the same member again and the call cache hits. A pool is
`Routed` (llm/types.py): the call cache asks `for_request(req)` to key each call by the
member that serves it, and the cost guard to price it at that member's price.
"""
from __future__ import annotations

import asyncio
import bisect
import hashlib
from typing import Sequence

from ..errors import RecipeError
from ..records import canonical_json
from .types import LLM, GenerationRequest, GenerationResult


class ModelPool:
    """Spreads requests over `members` [(llm, weight), ...] in proportion to their weights.

    An `LLM` and a `Routed` (llm/types.py), by structure.
    """

    def __init__(self, members: list[tuple[LLM, float]]) -> None:
        if not members:
            raise RecipeError("a model pool needs at least one model")
        for llm, weight in members:
            if not weight > 0:
                raise RecipeError(f"model {llm.identity}: weight must be > 0 (got {weight})")
        self.members = list(members)
        total = float(sum(w for _, w in members))
        self._bounds: list[float] = []
        acc = 0.0
        for _, w in members:
            acc += w / total
            self._bounds.append(acc)
        self._bounds[-1] = 1.0
        self._identity = "pool[" + ",".join(f"{llm.identity}*{w:g}" for llm, w in members) + "]"

    @property
    def identity(self) -> str:
        return self._identity

    def __repr__(self) -> str:
        return f"ModelPool({self._identity!r})"

    def for_request(self, req: GenerationRequest) -> LLM:
        """The member that serves `req`: the same one on every run."""
        if len(self.members) == 1:
            return self.members[0][0]
        digest = hashlib.blake2b(canonical_json(req.key_payload()), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2.0**64
        return self.members[min(bisect.bisect_right(self._bounds, u), len(self.members) - 1)][0]

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        groups: dict[int, list[int]] = {}
        routed = [self.for_request(r) for r in requests]
        index = {id(llm): i for i, (llm, _) in enumerate(self.members)}
        for pos, llm in enumerate(routed):
            groups.setdefault(index[id(llm)], []).append(pos)
        out: list[GenerationResult | None] = [None] * len(requests)

        async def run(member: int, positions: list[int]) -> None:
            llm = self.members[member][0]
            results = await llm.generate([requests[p] for p in positions])
            for p, res in zip(positions, results):
                out[p] = res

        if len(groups) == 1:
            [(m, ps)] = groups.items()
            await run(m, ps)
            return out  # type: ignore[return-value]
        tasks = [asyncio.ensure_future(run(m, ps)) for m, ps in groups.items()]
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # one member failed hard (auth, unreachable): stop the others too
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return out  # type: ignore[return-value]

    async def aclose(self) -> None:
        errors = await asyncio.gather(*(llm.aclose() for llm, _ in self.members), return_exceptions=True)
        for e in errors:
            if isinstance(e, BaseException):
                raise e
