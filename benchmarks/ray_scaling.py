"""engine.executor: ray against the local executor, and `dedup --executor ray` against one process.

    python benchmarks/ray_scaling.py model  --count 8          # bundled model: local vs 1 and 2 Ray workers
    python benchmarks/ray_scaling.py stub   --port P -n 2000   # Ray's overhead: a stub at 0 ms, c=64
    python benchmarks/ray_scaling.py dedup  --records 100000        # MinHash dedup: one process vs Ray Data

One local Ray cluster (num_cpus=2) is started first and its start time printed; each generation run's
wall time includes starting its workers (and, on the model, each worker loading its GGUF), as a user
pays it. Prints one JSON line per measurement; docs/benchmarks_ray.md records them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CITY = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                                         "country": {"type": "string", "maxLength": 30}},
        "required": ["city", "country"]}


def start_cluster() -> None:
    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(json.dumps({"what": "ray cluster start", "s": round(time.perf_counter() - t, 2)}), flush=True)


def run(recipe_dict: dict) -> tuple[int, float, float]:
    from synthloom.engine import run_recipe
    from synthloom.engine.recipe_file import recipe_from_dict

    recipe = recipe_from_dict(recipe_dict, "bench")
    with tempfile.TemporaryDirectory(prefix="synthloom-ray-") as tmp:
        t, cpu = time.perf_counter(), time.process_time()
        s = run_recipe(recipe, output=Path(tmp) / "out.jsonl")
        return s.accepted, time.perf_counter() - t, time.process_time() - cpu


def bench_model(count: int) -> None:
    base = {"name": "cities", "count": count, "model": {"backend": "llamacpp", "n_threads": 1},
            "generate": {"technique": "schema", "instruction": "A city and the country it is in.", "schema": CITY,
                         "examples": [{"city": "Lyon", "country": "France"}], "sampling": {"max_tokens": 40}},
            "quality": [], "engine": {"seed": 11, "max_attempts": count}}
    for label, model, engine in (
            ("local, 2 threads (reference: both cores, one process)", {"n_threads": 2}, {"concurrency": 2}),
            ("local, 1 thread", {}, {"concurrency": 2}),
            ("ray, 1 worker x 1 thread", {}, {"concurrency": 2, "executor": "ray", "ray": {"workers": 1}}),
            ("ray, 2 workers x 1 thread", {}, {"concurrency": 4, "executor": "ray", "ray": {"workers": 2}})):
        n, wall, cpu = run({**base, "model": {**base["model"], **model}, "engine": {**base["engine"], **engine}})
        # driver_cpu_s: CPU time of this process (the driver; with the local executor it also decodes)
        print(json.dumps({"what": "bundled model", "executor": label, "records": n, "wall_s": round(wall, 2),
                          "records_per_s": round(n / wall, 3), "driver_cpu_s": round(cpu, 2)}), flush=True)


def bench_stub(port: int, n: int, c: int) -> None:
    base = {"name": "stub", "count": n,
            "model": {"backend": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "model": "stub",
                      "api_key_env": None, "max_concurrency": c},
            "generate": {"technique": "schema", "schema": {"type": "object", "properties": {"text": {"type": "string"}},
                                                           "required": ["text"]},
                         "instruction": "Write a one-line product description."},
            "quality": [], "engine": {"concurrency": c, "max_attempts": n}}
    for label, engine in (("local", {}), ("ray, 1 worker", {"executor": "ray", "ray": {"workers": 1}}),
                          ("ray, 2 workers", {"executor": "ray", "ray": {"workers": 2}})):
        got, wall, _cpu = run({**base, "engine": {**base["engine"], **engine}})
        print(json.dumps({"what": "stub 0 ms", "executor": label, "records": got, "wall_s": round(wall, 2),
                          "records_per_s": round(got / wall, 1)}), flush=True)


def bench_dedup(n: int) -> None:
    sys.path.insert(0, str(HERE))
    from dedup_1m import make_records

    from synthloom.engine.ray_bulk import ray_dedup_texts
    from synthloom.quality.dedup import dedup_texts

    texts = make_records(n)
    for label, fn in (("one process (rensa)", lambda: dedup_texts(texts, "minhash", backend="rensa")),
                      ("ray data, 2 CPUs (rensa)", lambda: ray_dedup_texts(texts, "minhash", backend="rensa"))):
        t = time.perf_counter()
        marks = fn()
        wall = time.perf_counter() - t
        print(json.dumps({"what": f"minhash dedup {n}", "executor": label, "wall_s": round(wall, 1),
                          "kept": sum(1 for m in marks if m is None)}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["model", "stub", "dedup"])
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-c", type=int, default=64)
    ap.add_argument("--records", type=int, default=100_000)
    a = ap.parse_args()
    start_cluster()
    if a.mode == "model":
        bench_model(a.count)
    elif a.mode == "stub":
        bench_stub(a.port, a.n, a.c)
    else:
        bench_dedup(a.records)


if __name__ == "__main__":
    main()
