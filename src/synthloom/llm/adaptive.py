"""Adaptive concurrency (AIMD) for HTTP backends: less pressure when the server says it is overloaded.

The limit on requests in flight starts at `max_concurrency`. A sign of overload
(HTTP 429, 503, 504, a read timeout) halves it, once per round: failures of
requests that were sent before the last cut do not cut again, so a burst of 429s
from one wave of requests counts as one signal. The request that got a
`Retry-After` waits that long before it is sent again; once the limit is down to
one request in flight and the server still refuses, the `Retry-After` pauses every
new request, since fewer requests no longer help. (Pausing everyone on every 429
halved the throughput against a server that takes a fixed number in flight: each
probe above its capacity stopped the whole run; see docs/benchmarks_cost.md.)
Each success adds 1/limit, so the limit grows back by about one per round trip of
the whole window, and never above `max_concurrency`.

The fast path (limit not reached, no pause) takes no lock and creates no future,
so a server that never complains costs what a plain counter costs.
"""
from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Iterator


class AdaptiveLimit:
    """An AIMD limit on requests in flight: `acquire()` / `release()` around each attempt."""

    def __init__(self, max_limit: int, min_limit: int = 1, decrease: float = 0.5) -> None:
        self.max_limit = max(1, int(max_limit))
        self.min_limit = max(1, min(int(min_limit), self.max_limit))
        self.decrease = decrease
        self.limit = float(self.max_limit)
        self.in_flight = 0
        self.epoch = 0  # bumped by every cut; a failure of a request sent in an older epoch is not a new signal
        self.not_before = 0.0  # monotonic time before which nothing new is sent (Retry-After)
        self.cuts = 0
        self.lowest = self.max_limit
        self.paused_s = 0.0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._wake_handle: asyncio.TimerHandle | None = None

    @property
    def current(self) -> int:
        return max(self.min_limit, int(self.limit))

    async def acquire(self) -> int:
        """Wait for a free place; returns the epoch to hand back to `overload`."""
        if self.in_flight < self.current and not self._waiters and time.monotonic() >= self.not_before:
            self.in_flight += 1
            return self.epoch
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake()
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self.in_flight -= 1  # granted and then cancelled: give the place back
                self._wake()
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            raise
        return self.epoch

    def release(self) -> None:
        self.in_flight -= 1
        if self._waiters:
            self._wake()

    def success(self) -> None:
        if self.limit < self.max_limit:
            self.limit = min(float(self.max_limit), self.limit + 1.0 / max(self.limit, 1.0))
            if self._waiters:
                self._wake()

    def overload(self, epoch: int, retry_after: float | None = None) -> bool:
        """A sign of overload from a request sent in `epoch`; True when it cut the limit."""
        if retry_after and self.current <= self.min_limit:
            until = time.monotonic() + retry_after
            if until > self.not_before:
                self.paused_s += until - max(self.not_before, time.monotonic())
                self.not_before = until
        if epoch != self.epoch:
            return False
        self.epoch += 1
        self.cuts += 1
        self.limit = max(float(self.min_limit), self.limit * self.decrease)
        self.lowest = min(self.lowest, self.current)
        return True

    def _wake(self) -> None:
        now = time.monotonic()
        if now < self.not_before:
            if self._wake_handle is None:
                loop = asyncio.get_running_loop()
                self._wake_handle = loop.call_at(loop.time() + (self.not_before - now), self._timer)
            return
        while self._waiters and self.in_flight < self.current:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def _timer(self) -> None:
        self._wake_handle = None
        self._wake()

    def state(self) -> dict[str, Any]:
        return {"max": self.max_limit, "limit": self.current, "lowest": self.lowest, "cuts": self.cuts,
                "paused_s": round(self.paused_s, 3)}


def limiters(llm: Any) -> Iterator[tuple[str, AdaptiveLimit]]:
    """(identity, limit) of every adaptive backend behind `llm` (a cache wrapper, a pool, a backend)."""
    seen: set[int] = set()
    stack = [llm]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        lim = getattr(x, "limiter", None)
        if isinstance(lim, AdaptiveLimit):
            yield x.identity, lim
        inner = getattr(x, "inner", None)
        if inner is not None:
            stack.append(inner)
        for member in getattr(x, "members", ()) or ():
            stack.append(member[0] if isinstance(member, tuple) else member)


def limit_text(llms: list[Any]) -> str:
    """`12/64` for the progress line: the tightest adaptive limit now, or '' when no backend has one."""
    worst: AdaptiveLimit | None = None
    for llm in llms:
        for _ident, lim in limiters(llm):
            if worst is None or lim.current / lim.max_limit < worst.current / worst.max_limit:
                worst = lim
    return "" if worst is None else f"{worst.current}/{worst.max_limit}"


def limit_report(llms: list[Any]) -> list[dict[str, Any]]:
    """One row per adaptive backend: its ceiling, the limit now, the lowest it fell to, cuts, time paused."""
    rows: dict[str, dict[str, Any]] = {}
    for llm in llms:
        for ident, lim in limiters(llm):
            rows.setdefault(ident, {"model": ident, **lim.state()})
    return list(rows.values())
