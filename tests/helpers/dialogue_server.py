"""A scripted OpenAI-compatible chat server for conversation tests: a request that asks for JSON (the
simulated user) gets {"status": "continue", "message": ...}, any other (the assistant) a sentence. The
replies are distinct per request body, so a turn asked twice is seen. GET /stats: requests, repeats.

    python tests/helpers/dialogue_server.py --port-file FILE [--latency-ms 80]
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from loopback import serve  # noqa: E402

WORDS = ("bike helmet lock saturday sunday morning evening basket seat chain tyre brake bell lamp map route "
         "park river bridge station").split()


def make_app(latency_s: float) -> web.Application:
    seen: dict[str, int] = {}
    stats = {"requests": 0, "repeats": 0}

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        stats["requests"] += 1
        if key in seen:
            stats["repeats"] += 1
        seen[key] = seen.get(key, 0) + 1
        await asyncio.sleep(latency_s)
        h = int(key[:8], 16)
        topic = " ".join(WORDS[(h >> (4 * i)) % len(WORDS)] for i in range(3))
        if "response_format" in body:
            n = sum(1 for m in body["messages"] if m["role"] == "assistant")
            msg = {"message": f"Question {n + 1}: tell me about the {topic}, please."}
            if n:
                msg = {"status": "continue", **msg}
            content = json.dumps(msg)
        else:
            content = f"The {topic} ({key[:6]}) is ready for you."
        return web.json_response({"object": "chat.completion", "model": body.get("model"),
                                  "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": content}}]})

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stats", get_stats)
    return app


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--latency-ms", type=float, default=80)
    a = ap.parse_args()
    serve(make_app(a.latency_ms / 1000), a.port_file)
