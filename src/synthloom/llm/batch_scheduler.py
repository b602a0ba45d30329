"""From concurrent ``generate()`` calls to one batched decoding loop in the backend's worker thread.

The engine runs ``concurrency`` slots, each awaiting its own ``generate([request])``. Every call
puts its requests in one inbox; a drain loop in the backend's single worker thread takes them into
the ``BatchDecoder`` between two steps (continuous batching) and resolves each call's futures as its
sequences finish. The loop runs while there is work and ends when the inbox and the decoder are
empty, so an idle backend holds no thread busy.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Executor
from typing import Any, Callable, Sequence

from .batched import BatchDecoder, Decoded, Prepared
from .types import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)


def _resolve(fut: asyncio.Future, value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut: asyncio.Future, exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class BatchScheduler:
    """The async side of batched decoding for one backend."""

    def __init__(self, decoder: Callable[[], BatchDecoder], prepare: Callable[[GenerationRequest], Prepared],
                 result: Callable[[GenerationRequest, Decoded], GenerationResult],
                 timeout_s: Callable[[], float | None]) -> None:
        self._decoder = decoder  # loads the model on first use, in the worker thread
        self._prepare = prepare
        self._result = result
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._inbox: list[tuple[GenerationRequest, asyncio.Future, asyncio.AbstractEventLoop]] = []
        self._running = False
        self._in_flight: dict[int, tuple[asyncio.Future, asyncio.AbstractEventLoop]] = {}

    async def generate(self, executor: Executor, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in requests]
        with self._lock:
            self._inbox.extend((r, f, loop) for r, f in zip(requests, futs))
            start = not self._running
            self._running = True
        if start:
            loop.run_in_executor(executor, self._drain)
        try:
            return list(await asyncio.gather(*futs))
        except asyncio.CancelledError:
            for f in futs:  # the drain loop drops a cancelled request at its next step
                f.cancel()
            raise

    def _drain(self) -> None:
        dec: BatchDecoder | None = None
        try:
            dec = self._decoder()
            while True:
                with self._lock:
                    items, self._inbox = self._inbox, []
                    if not items and not dec.busy:
                        self._running = False
                        return
                for req, fut, loop in items:
                    if fut.cancelled():
                        continue
                    self._in_flight[id(fut)] = (fut, loop)
                    dec.submit(self._prepare(req), self._on_done(req, fut, loop),
                               cancelled=fut.cancelled, timeout_s=self._timeout_s())
                dec.step()
        except BaseException as exc:  # a load error or a broken context: every waiting call gets it
            log.debug("batched decoding loop stopped: %r", exc)
            if dec is not None:
                dec.abort()
            with self._lock:
                pending = [(f, lp) for _, f, lp in self._inbox] + list(self._in_flight.values())
                self._inbox, self._in_flight = [], {}
                self._running = False
            for fut, loop in pending:
                if not fut.done():
                    loop.call_soon_threadsafe(_fail, fut, exc)

    def _on_done(self, req: GenerationRequest, fut: asyncio.Future,
                 loop: asyncio.AbstractEventLoop) -> Callable[[Decoded], None]:
        def done(d: Decoded) -> None:
            self._in_flight.pop(id(fut), None)
            result = self._result(req, d)
            if not fut.done():
                loop.call_soon_threadsafe(_resolve, fut, result)
        return done
