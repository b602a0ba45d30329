"""The batch path's own cost against the loopback stub (tests/helpers/batch_stub.py): records/s, CPU per
record and store size of one run through `batch_api: openai` vs the same recipe live, and the time a
crashed run takes to resume. The provider's turnaround (minutes to 24 h) is not measured: the stub ends
a batch `--delay` seconds after its create, so what is left is synthloom's work: collecting, writing the
stages, uploading, downloading, parsing, gates, store.

    python benchmarks/batch_api.py -n 5000
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers.batch_run import recipe  # noqa: E402
from synthloom.engine.api import arun_recipe  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def start_stub(folder: Path) -> tuple[subprocess.Popen, str]:
    port = folder / "port"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests/helpers/batch_stub.py"), "--port-file", str(port),
                             "--delay", "0.5"])
    while not (port.exists() and port.read_text()):
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port.read_text()}"


async def one(url: str, api: str | None, n: int, out: Path) -> dict:
    r = recipe(url + "/v1", api, n, engine_extra={"concurrency": 64} if api is None else None)
    t0, c0 = time.perf_counter(), cpu()
    s = await arun_recipe(r, output=out)
    wall, used = time.perf_counter() - t0, cpu() - c0
    store = out.with_name(out.stem + ".run") / "store.sqlite"
    return {"mode": api or "live", "records": s.accepted, "wall_s": round(wall, 2), "rec_per_s": round(s.accepted / wall, 1),
            "cpu_ms_per_record": round(1000 * used / max(s.accepted, 1), 2), "store_mb": round(store.stat().st_size / 1e6, 2),
            "cost": s.cost}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc, url = start_stub(folder)
        try:
            rows = [asyncio.run(one(url, mode, a.n, folder / f"{mode or 'live'}.jsonl")) for mode in ("openai", None)]
            stats = json.load(urllib.request.urlopen(url + "/stats"))
        finally:
            proc.kill()
    for r in rows:
        print(json.dumps(r))
    print(json.dumps({"stub": stats}))


if __name__ == "__main__":
    main()
