"""One driver against two shards at 10k-1M records, through the `openai` backend and the local stub.

    nice -n 10 .venv/bin/python benchmarks/scale.py -n 10000 100000 1000000 --modes one shards2

Each run is a fresh process (peak RSS of that process from getrusage, as /usr/bin/time -v reports it)
making N records of a one-field schema recipe with an exact dedup gate, at concurrency 64, against
benchmarks/scale_stub.py at 0 ms (a distinct record per request seed). `shards2` runs
`--shard 0/2` and `--shard 1/2` at the same time, each with 0.2% + 10 more records than its share (the
records one shard repeats of the other: request seeds collide now and then), then `synthloom merge -n N`
(timed apart), which keeps the first N in slot order.
Prints one markdown table row per run (results: docs/benchmarks_scale.md): wall = the whole process
(interpreter start, imports) as a user pays it; run = `run_recipe` alone (for shards2: the slower shard
plus the merge), and its CPU time over all processes.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def recipe(port: int, n: int, c: int):
    from synthloom.config.recipe import Recipe

    return Recipe.model_validate({
        "name": "scale", "count": n,
        "model": {"backend": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "model": "stub",
                  "api_key_env": None, "max_concurrency": c, "timeout_s": 60},
        "generate": {"technique": "schema", "schema": SCHEMA, "instruction": "Write a one-line product description."},
        "quality": [{"gate": "dedup", "method": "exact"}],
        "engine": {"concurrency": c, "max_attempts": n + n // 100 + 100},
    })


def usage() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"rss_mib": round(r.ru_maxrss / 1024, 1), "cpu_s": round(r.ru_utime + r.ru_stime, 2)}


def child(a) -> None:
    from synthloom.engine import run_recipe
    import synthloom.generators.schema  # noqa: F401  imported before the clock, as the engine's other benchmarks do

    cpu0, t = usage()["cpu_s"], time.perf_counter()
    s = run_recipe(recipe(a.port, a.n, a.c), base_dir=a.out, output=Path(a.out), shard=a.shard)
    wall, u = time.perf_counter() - t, usage()
    print(json.dumps({"accepted": s.accepted, "wall_s": round(wall, 2), "run_cpu_s": round(u["cpu_s"] - cpu0, 2), **u}))


def merge(a) -> None:
    from synthloom.engine.shards import merge_runs

    t = time.perf_counter()
    m = merge_runs(a.dirs, Path(a.out), count=a.count)
    print(json.dumps({"accepted": m.accepted, "wall_s": round(time.perf_counter() - t, 2), **usage()}))


def size_mib(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("store.sqlite*")) / 2**20, 1)


def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def result(p: subprocess.Popen) -> dict:
    out, _ = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"a benchmark process failed (exit {p.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def bench(a) -> None:
    from scale_stub import running

    with running("synthloom-scale-") as (port, tmp):
        print("| records | mode | wall s | records/s | run s | run records/s | run CPU us/record | peak RSS MiB "
              "| store MiB | merge s | merge RSS MiB | load |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n in a.n:
            for mode in a.modes:
                d = tmp / f"{mode}-{n}"
                load = os.getloadavg()[0]
                t = time.perf_counter()
                if mode == "one":
                    r = result(spawn(["child", "--port", port, "-n", str(n), "-c", str(a.c), "--out", str(d / "one")]))
                    wall, rss, merged, mrss = time.perf_counter() - t, r["rss_mib"], "", ""
                    run, cpu = r["wall_s"], r["run_cpu_s"]
                    assert r["accepted"] == n, r
                else:
                    more = n + n // 500 + 10  # makes up for the records one shard repeats of the other
                    shards = [spawn(["child", "--port", port, "-n", str(more), "-c", str(a.c), "--out", str(d / f"s{i}"),
                                     "--shard", f"{i}/2"]) for i in range(2)]
                    rs = [result(p) for p in shards]
                    m = result(spawn(["merge", str(d / "s0"), str(d / "s1"), "--out", str(d / "merged"),
                                      "--count", str(n)]))
                    assert m["accepted"] == n, m
                    wall = time.perf_counter() - t
                    rss = "/".join(str(r["rss_mib"]) for r in rs)
                    run = max(r["wall_s"] for r in rs) + m["wall_s"]
                    cpu = sum(r["run_cpu_s"] for r in rs) + m["cpu_s"]
                    merged, mrss = m["wall_s"], m["rss_mib"]
                print(f"| {n:,} | {mode} | {wall:.1f} | {n / wall:.0f} | {run:.1f} | {n / run:.0f} | {cpu / n * 1e6:.0f} "
                      f"| {rss} | {size_mib(d)} "
                      f"| {merged} | {mrss} | {load:.1f} |", flush=True)
                shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    c = sub.add_parser("child")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("-n", type=int, required=True)
    c.add_argument("-c", type=int, default=64)
    c.add_argument("--out", required=True)
    c.add_argument("--shard", default=None)
    m = sub.add_parser("merge")
    m.add_argument("dirs", nargs="+")
    m.add_argument("--out", required=True)
    m.add_argument("--count", type=int, required=True)
    ap.add_argument("-n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("-c", type=int, default=64)
    ap.add_argument("--modes", nargs="+", default=["one", "shards2"], choices=["one", "shards2"])
    a = ap.parse_args()
    {"child": child, "merge": merge}.get(a.cmd, bench)(a)


if __name__ == "__main__":
    main()
