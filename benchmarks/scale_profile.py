"""Where a long run's CPU per record goes, window by window: the store, the call cache, dedup, Python's GC.

    nice -n 10 .venv/bin/python benchmarks/scale_profile.py -n 1000000 --window 100000 [--gc-freeze] [--cache-mib 2]

One process, the recipe of benchmarks/scale.py (one-field schema, exact dedup, concurrency 64, the
`openai` backend) against benchmarks/scale_stub.py at 0 ms. Every `--window` accepted records it
prints one markdown row: records/s, the run's CPU per record, and the wall time per record spent in
the run store's group commit (`commit_batch`), the call cache's lookup (`get_calls`), the dedup gate
(check + commit) and Python's garbage collector (per generation, from `gc.callbacks`), each as CPU time
of the run's thread, with the number of collections of each generation. `--gc-freeze` and `--cache-mib` try the engine without its own
settings for those (what the engine does by itself is the row without either).
"""
from __future__ import annotations

import argparse
import functools
import gc
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

SPENT: dict[str, float] = {}
CLOCK = time.thread_time  # CPU time of the event loop's thread: what the machine's load does not inflate


def timed(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        t = CLOCK()
        try:
            return fn(*a, **kw)
        finally:
            SPENT[name] = SPENT.get(name, 0.0) + CLOCK() - t
    return wrapper


def atimed(name: str, fn):
    @functools.wraps(fn)
    async def wrapper(*a, **kw):  # the gate's own time: its awaits return at once (no model in exact dedup)
        t = CLOCK()
        try:
            return await fn(*a, **kw)
        finally:
            SPENT[name] = SPENT.get(name, 0.0) + CLOCK() - t
    return wrapper


def gc_meter():
    started = {}
    counts = [0, 0, 0]

    def cb(phase, info):
        if phase == "start":
            started["t"] = CLOCK()
        else:
            g = info["generation"]
            counts[g] += 1
            SPENT[f"gc{g}"] = SPENT.get(f"gc{g}", 0.0) + CLOCK() - started.get("t", CLOCK())
    gc.callbacks.append(cb)
    return counts


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(a, port: str, out: Path) -> None:
    from scale import recipe

    from synthloom.engine import run_recipe
    from synthloom.quality.dedup import DedupGate
    from synthloom.runs.store import RunStore
    import synthloom.generators.schema  # noqa: F401

    RunStore.commit_batch = timed("commit", RunStore.commit_batch)
    RunStore.get_calls = timed("cache_get", RunStore.get_calls)
    DedupGate.check = atimed("dedup", DedupGate.check)
    DedupGate.commit = timed("dedup", DedupGate.commit)
    if a.cache_mib is not None:
        init = RunStore.__init__

        def with_cache(self, *args, **kw):
            init(self, *args, **kw)
            self._db.execute(f"PRAGMA cache_size=-{a.cache_mib * 1024}")
        RunStore.__init__ = with_cache
    counts = gc_meter()
    state = {"next": a.window, "t": time.perf_counter(), "cpu": cpu(), "spent": {}, "counts": [0, 0, 0],
             "frozen": False}
    cols = ["commit", "cache_get", "dedup", "gc0", "gc1", "gc2"]
    print(f"| records | records/s | CPU us/record | {' | '.join(c + ' us' for c in cols)} | gc0/gc1/gc2 | load |")
    print("|---" * (6 + len(cols)) + "|", flush=True)

    def on_progress(p) -> None:
        if a.gc_freeze and not state["frozen"] and p.accepted >= 1000:
            gc.collect()
            gc.freeze()  # what the engine would do after warm-up
            state["frozen"] = True
        if p.accepted < state["next"]:
            return
        now, c = time.perf_counter(), cpu()
        n = p.accepted - (state["next"] - a.window)
        per = {k: (SPENT.get(k, 0.0) - state["spent"].get(k, 0.0)) / n * 1e6 for k in cols}
        dc = [x - y for x, y in zip(counts, state["counts"])]
        print(f"| {p.accepted:,} | {n / (now - state['t']):.0f} | {(c - state['cpu']) / n * 1e6:.0f} | "
              + " | ".join(f"{per[k]:.1f}" for k in cols)
              + f" | {'/'.join(map(str, dc))} | {os.getloadavg()[0]:.1f} |", flush=True)
        state.update(next=state["next"] + a.window, t=now, cpu=c, spent=dict(SPENT), counts=list(counts))

    run_recipe(recipe(int(port), a.n, a.c), base_dir=out, output=out, on_progress=on_progress)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=300_000)
    ap.add_argument("-c", type=int, default=64)
    ap.add_argument("--window", type=int, default=50_000)
    ap.add_argument("--gc-freeze", action="store_true")
    ap.add_argument("--cache-mib", type=int, default=None)
    a = ap.parse_args()
    from scale_stub import running

    with running("synthloom-profile-") as (port, tmp):
        run(a, port, tmp / "run")


if __name__ == "__main__":
    main()
