"""Run a `batch_api` recipe against tests/helpers/batch_stub.py, killing itself (SIGKILL) at one stage.

Run: python batch_run.py BASE_URL OUT.jsonl [STAGE] [API] [COUNT]. STAGE (or "-" for none):
  before_upload   the batch and its requests are in the store; nothing was sent
  after_create    the provider made the batch; its id is not written down yet
  polling         the batch id is written down; the first look at its status
  mid_download    its results are being downloaded
  after_collect   its results are in the call cache; no slot has used them yet
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from synthloom.engine.api import arun_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.llm import batch_api
from synthloom.runs import batch_log

HELPERS = Path(__file__).resolve().parent
SCHEMA = {"type": "object", "properties": {"subject": {"type": "string", "minLength": 3},
                                           "priority": {"type": "integer", "minimum": 1, "maximum": 3}},
          "required": ["subject", "priority"]}


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(stage: str, api: str) -> None:
    if stage == "-":
        return
    cls = batch_api.PROVIDERS[api]
    if stage == "before_upload":
        async def upload(self, *a):
            die()
        cls.upload = upload
    elif stage == "after_create":
        create = cls.create

        async def create_then_die(self, *a):
            await create(self, *a)
            die()
        cls.create = create_then_die
    elif stage == "polling":
        async def get(self, *a):
            die()
        cls.get = get
    elif stage == "mid_download":
        call = batch_api._Http.call

        async def call_then_die(self, method, url, **kw):
            raw = await call(self, method, url, **kw)
            if url.endswith("/content") or url.endswith("/results"):
                die()
            return raw
        batch_api._Http.call = call_then_die
    elif stage == "after_collect":
        collect = batch_log.BatchLog.collect

        def collect_then_die(self, *a, **kw):
            collect(self, *a, **kw)
            die()
        batch_log.BatchLog.collect = collect_then_die
    else:
        raise SystemExit(f"unknown stage {stage}")


def recipe(base_url: str, api: str | None, count: int, model_extra: dict | None = None,
           batch_extra: dict | None = None, engine_extra: dict | None = None):
    model = {"backend": "openai", "base_url": base_url, "model": "m", "api_key_env": None,
             "price": {"input": 0.5, "output": 2.0}, **(model_extra or {})}
    engine = {"seed": 3, "concurrency": 1, **(engine_extra or {})}  # live: one slot at a time, as a batch accepts
    if api:
        model.update(batch_api=api, batch={"collect_s": 0.3, "poll_s": 0.05, "poll_max_s": 0.2, **(batch_extra or {})})
        del engine["concurrency"]
    return recipe_from_dict({
        "name": "b", "count": count, "model": model, "engine": engine,
        "generate": {"technique": "schema", "schema": SCHEMA, "instruction": "support tickets",
                     "sampling": {"max_tokens": 64}}}, "test")


# -- for the tests: the stub, a run of this script, what they did

@contextmanager
def batch_stub(folder: Path, *args: str):
    """tests/helpers/batch_stub.py on a free port: yields its base URL (no /v1)."""
    port_file = folder / "stub-port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(HELPERS / "batch_stub.py"), "--port-file", str(port_file), *args])
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "batch_stub.py did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        proc.kill()
        proc.wait()


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/stats") as r:
        return json.load(r)


def run(url: str, out: Path, stage: str = "-", api: str = "openai", count: int = 12) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(HELPERS / "batch_run.py"), url + "/v1", str(out), stage, api, str(count)],
                          env=env, capture_output=True, text=True, timeout=180)


def rows(path: Path) -> list[str]:
    return sorted(path.read_text().splitlines())


def main() -> None:
    base_url, out = sys.argv[1], sys.argv[2]
    stage = sys.argv[3] if len(sys.argv) > 3 else "-"
    api = sys.argv[4] if len(sys.argv) > 4 else "openai"
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 12
    arm(stage, api)
    s = asyncio.run(arun_recipe(recipe(base_url, None if api == "live" else api, count), output=out))
    print(json.dumps({"accepted": s.accepted, "calls": s.calls, "cache_hits": s.cache_hits, "cost": s.cost}))


if __name__ == "__main__":
    main()
