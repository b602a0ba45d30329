"""Records per second for the demo recipe, cold and fully cached.

    python benchmarks/demo_speed.py [--count 50] [--out docs/benchmarks_demo.md]

Target: a fully cached re-run takes < 5% of the cold run's time.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

from synthloom import load_recipe, run_recipe

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks_demo.md"))
    a = ap.parse_args()
    recipe = load_recipe(ROOT / "examples" / "billing-tickets.yaml", {"count": a.count})
    tmp = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        cold = run_recipe(recipe, base_dir=ROOT / "examples", output=tmp / "t.jsonl")
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = run_recipe(recipe, base_dir=ROOT / "examples", output=tmp / "t2.jsonl", run_dir=tmp / "t.run")
        warm_s = time.perf_counter() - t0
        # a fresh run dir that shares nothing but the cache: replays every call, re-runs every gate
        shutil.copy(tmp / "t.run" / "store.sqlite", tmp / "cache-only.sqlite")
        import sqlite3

        (tmp / "replay.run").mkdir()
        shutil.copy(tmp / "cache-only.sqlite", tmp / "replay.run" / "store.sqlite")
        with sqlite3.connect(tmp / "replay.run" / "store.sqlite") as con:
            for table in ("records", "rejections", "slots", "runs", "usage"):
                con.execute(f"DELETE FROM {table}")
        t0 = time.perf_counter()
        replay = run_recipe(recipe, base_dir=ROOT / "examples", output=tmp / "t3.jsonl", run_dir=tmp / "replay.run")
        replay_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("cold (bundled model)", cold_s, cold.accepted, cold.calls, cold.cache_hits),
        ("re-run, finished run (store)", warm_s, warm.accepted, warm.calls, warm.cache_hits),
        ("re-run, cache only (every call replayed, every gate re-run)", replay_s, replay.accepted, replay.calls, replay.cache_hits),
    ]
    lines = [
        f"## Demo recipe: cold vs cached ({a.count} billing tickets, {platform.machine()}, {__import__('os').cpu_count()} cores)",
        "",
        "| run | wall s | records | records/s | model calls | cache hits | % of cold |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s, n, calls, hits in rows:
        lines.append(f"| {name} | {s:.2f} | {n} | {n / s:.1f} | {calls - hits} | {hits} | {100 * s / cold_s:.1f}% |")
    lines.append("")
    lines.append(f"Funnel of the cold run: {cold.funnel}")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
