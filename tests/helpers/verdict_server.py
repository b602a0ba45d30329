"""A standalone OpenAI-compatible server whose verdicts depend only on what it is asked.

Run: python verdict_server.py --port-file F [--latency-ms 0]. A judge request (a `score` in the response schema) gets a score
1-5 and a rationale from a hash of the last user message; a label check (a `label` enum) gets one of the
allowed labels (sorted, so the per-record option order does not matter), from the same hash. Whoever asks,
in whatever order, the same record gets the same verdict: a deterministic model for comparing executors.
GET /stats -> {"requests": N}.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json

from aiohttp import web
from loopback import serve

COUNT = {"requests": 0}


def _schema(body: dict) -> dict:
    fmt = body.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}


async def completions(request: web.Request) -> web.Response:
    body = await request.json()
    COUNT["requests"] += 1
    await asyncio.sleep(request.app["latency"])
    asked = [m for m in body.get("messages", []) if m.get("role") == "user"][-1]["content"]
    h = int(hashlib.sha1(str(asked).encode()).hexdigest(), 16)
    props = _schema(body).get("properties", {})
    if "label" in props:
        names = sorted(props["label"].get("enum") or ["none"])
        verdict = {"label": names[h % len(names)]}
    else:
        verdict = {"rationale": f"verdict {h % 997} for this record", "score": 1 + h % 5}
    return web.json_response({
        "object": "chat.completion", "model": body.get("model"),
        "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32},
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": json.dumps(verdict)}}],
    })


async def stats(request: web.Request) -> web.Response:
    return web.json_response(COUNT)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--latency-ms", type=float, default=0)
    a = ap.parse_args()
    app = web.Application()
    app["latency"] = a.latency_ms / 1000
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/stats", stats)
    serve(app, a.port_file)


if __name__ == "__main__":
    main()
