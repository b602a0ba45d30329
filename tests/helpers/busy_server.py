"""An OpenAI-compatible server on 127.0.0.1 that is overloaded past `capacity` requests in flight.

Beyond `capacity` it answers 429 with `Retry-After: retry_after` (None: no header), the way a
provider's rate limiter does; `capacity=0` answers 429 to every call. It logs each arrival
(time, in flight) and each 429, so a test can check what the client did with the signal.
The answer is a distinct record per request seed (for model "judge": a verdict, score 4),
with fixed token usage.
"""
from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web


class BusyServer:
    def __init__(self, capacity: int = 4, retry_after: float | None = 0.05, latency: float = 0.02,
                 prompt_tokens: int = 20, completion_tokens: int = 12) -> None:
        self.capacity = capacity
        self.retry_after = retry_after
        self.latency = latency
        self.usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[tuple[float, int, int]] = []  # (monotonic time, in flight including this one, seed)
        self.refusals: list[tuple[float, int]] = []  # (monotonic time, seed) of each 429 sent
        self.served = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        seed = body.get("seed") or 0
        self.in_flight += 1
        try:
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.arrivals.append((time.monotonic(), self.in_flight, seed))
            if self.in_flight > self.capacity:
                headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
                self.refusals.append((time.monotonic(), seed))
                return web.json_response({"error": {"message": "Rate limit reached, slow down"}},
                                         status=429, headers=headers)
            await asyncio.sleep(self.latency)
            self.served += 1
            content = json.dumps({"rationale": "Specific and complete.", "score": 4} if body.get("model") == "judge"
                                 else {"subject": f"Billing ticket {seed}", "priority": 1 + seed % 3})
            return web.json_response({
                "object": "chat.completion", "model": body.get("model"), "usage": self.usage,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}]})
        finally:
            self.in_flight -= 1

    async def start(self) -> "BusyServer":
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
