"""An OpenAI-compatible stub on 127.0.0.1 that answers at once with a distinct record per request seed.

    python benchmarks/scale_stub.py --port-file F [--latency-ms 0]

The answer is `{"text": "..."}` built from the request's seed, so every slot of a run gets a record
of its own (dedup keeps them all) and the same seed always gets the same record. No state grows
with the number of requests: the stub's memory is flat however long a benchmark runs.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from aiohttp import web

WORDS = ("amber basalt cedar delta ember fjord garnet harbor indigo juniper kelp lantern meadow nickel onyx "
         "prairie quartz raven saffron tundra umber violet willow xenon yarrow zephyr").split()


def record(seed: int) -> dict:
    words, x = [], seed
    for _ in range(8):
        words.append(WORDS[x % len(WORDS)])
        x //= len(WORDS)
    return {"text": f"A {' '.join(words)} product, item {seed}."}


async def completions(request: web.Request) -> web.Response:
    body = await request.json()
    latency = request.app["latency"]
    if latency:
        await asyncio.sleep(latency)
    content = json.dumps(record(int(body.get("seed") or 0)))
    return web.json_response({
        "object": "chat.completion", "model": body.get("model"),
        "usage": {"prompt_tokens": 20, "completion_tokens": 14, "total_tokens": 34},
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
    })


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})


@contextlib.contextmanager
def running(prefix: str) -> Iterator[tuple[str, Path]]:
    """This stub in a child process: yields (its port, a fresh temporary folder); stops it and removes the folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    pf = tmp / "port"
    stub = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port-file", str(pf)])
    try:
        for _ in range(200):
            if pf.exists() and pf.read_text().strip():
                break
            time.sleep(0.05)
        yield pf.read_text().strip(), tmp
    finally:
        stub.terminate()
        stub.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    a = ap.parse_args()
    app = web.Application()
    app["latency"] = a.latency_ms / 1000
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    with open(a.port_file, "w") as f:
        f.write(str(sock.getsockname()[1]))
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
