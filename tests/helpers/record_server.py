"""A standalone OpenAI-compatible server that writes a distinct ticket per request seed.

Run: python record_server.py --port-file F [--latency-ms 50]. It counts how often
each distinct request body was answered (GET /stats -> {"requests": N, "repeats": R}),
so a test can check that a resumed run did not repeat a finished call.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json

from aiohttp import web
from loopback import serve

SEEN: dict[str, int] = {}


async def completions(request: web.Request) -> web.Response:
    key_needed = request.app["key"]
    if key_needed and request.headers.get("Authorization") != f"Bearer {key_needed}":
        return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
    raw = await request.read()
    body = json.loads(raw)
    key = hashlib.sha1(raw).hexdigest()
    SEEN[key] = SEEN.get(key, 0) + 1
    await asyncio.sleep(request.app["latency"])
    seed = (body.get("seed") or 0) % request.app["distinct"]
    record = {"subject": f"Billing ticket {seed}", "priority": 1 + seed % 3}
    return web.json_response({
        "object": "chat.completion", "model": body.get("model"),
        "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32},
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": json.dumps(record)}}],
    })


async def stats(request: web.Request) -> web.Response:
    return web.json_response({"requests": sum(SEEN.values()), "repeats": sum(v - 1 for v in SEEN.values())})


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "tickets", "object": "model"}]})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--distinct", type=int, default=2**63, help="seed modulo this: known duplicates")
    ap.add_argument("--require-key", default="", help="answer 401 unless this bearer key is sent")
    a = ap.parse_args()
    app = web.Application()
    app["latency"] = a.latency_ms / 1000
    app["distinct"] = a.distinct
    app["key"] = a.require_key
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    serve(app, a.port_file)


if __name__ == "__main__":
    main()
