"""A tiny scripted OpenAI-compatible server (aiohttp.web) on 127.0.0.1 for backend unit tests.

`server.script` is a list of replies consumed in order, one per completion request:
an int status, a (status, body, headers) tuple, or a callable(body) -> such a reply.
When it is empty the server answers 200 with `server.content`.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

from aiohttp import web


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Any] = []
        self.content = '{"text": "hello"}'
        self.delay = 0.0  # seconds before each answer
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def ok_body(self, body: dict) -> dict:
        usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
        if "messages" in body:
            return {"object": "chat.completion", "model": body.get("model"), "usage": usage,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": self.content}}]}
        return {"object": "text_completion", "model": body.get("model"), "usage": usage,
                "choices": [{"index": 0, "finish_reason": "length", "text": self.content}]}

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        reply: Any = self.script.pop(0) if self.script else 200
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, int):
            reply = (reply, None, {})
        status, payload, headers = reply
        if payload is None:
            payload = self.ok_body(body) if status == 200 else {"error": {"message": f"status {status}"}}
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)

    async def start(self) -> "FakeOpenAI":
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


Reply = int | tuple[int, Any, dict] | Callable[[dict], Any]
