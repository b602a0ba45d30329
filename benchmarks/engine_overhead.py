"""Engine overhead: synthloom's whole path against the OpenAI-compatible stub in ../shared/bench/peers/.

A runner for that harness (same flags and RESULT line as its peers):

    SYNTHLOOM_PY=$PWD/.venv/bin/python SYNTHLOOM_RUNNER=$PWD/benchmarks/engine_overhead.py \\
        bash ../shared/bench/peers/run_all.sh

or alone, against a stub you started:  python benchmarks/engine_overhead.py --port P -n 2000 -c 64

--mode engine  (default) the whole path through `synthloom.engine.run_recipe`: a schema recipe
               (one string field), the `openai` backend, request -> parse -> validate -> gates ([]:
               the stub answers the same record every time) -> run store (SQLite) -> JSONL export,
               in a fresh temporary run dir, so every call misses the cache.
--mode backend the `openai` backend alone: OpenAICompatLLM.generate over N requests (C in flight).

Wall time covers the generation call only (run_recipe or generate), not interpreter start or imports.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def model_cfg(port: int, c: int):
    from synthloom.config.models import OpenAIModel

    return OpenAIModel(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model="stub",
                       api_key_env=None, max_concurrency=c, timeout_s=60)


def run_engine(port: int, n: int, c: int, keep: str | None) -> tuple[int, float]:
    from synthloom.config.recipe import Recipe
    from synthloom.engine import run_recipe

    recipe = Recipe.model_validate({
        "name": "engine-overhead",
        "count": n,
        "model": model_cfg(port, c).model_dump(),
        "generate": {"technique": "schema", "schema": SCHEMA,
                     "instruction": "Write a one-line product description."},
        "quality": [],
        "engine": {"concurrency": c, "max_attempts": n},
    })
    with tempfile.TemporaryDirectory(prefix="synthloom-bench-") as tmp:
        out = Path(keep or tmp) / "records.jsonl"
        t = time.perf_counter()
        summary = run_recipe(recipe, base_dir=tmp, output=out)
        wall = time.perf_counter() - t
        lines = sum(1 for _ in out.open()) if out.exists() else 0
    if lines != summary.accepted:
        print(f"warning: {lines} lines written for {summary.accepted} accepted records", file=sys.stderr)
    return summary.accepted, wall


async def run_backend(port: int, n: int, c: int) -> tuple[int, float]:
    from synthloom.llm.openai_compat import OpenAICompatLLM
    from synthloom.llm.types import GenerationRequest

    llm = OpenAICompatLLM(model_cfg(port, c))
    reqs = [GenerationRequest(messages=({"role": "user", "content": f"Write a one-line product description for item {i}"},),
                              json_schema=SCHEMA, seed=i) for i in range(n)]
    await llm.generate(reqs[: 2 * c])  # warm-up: open the connections (the harness's loadgen does the same)
    t = time.perf_counter()
    results = await llm.generate(reqs)
    wall = time.perf_counter() - t
    await llm.aclose()
    return sum(1 for r in results if r.ok and r.parsed is not None), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True, help="port of the stub on 127.0.0.1")
    ap.add_argument("-n", type=int, default=2000, help="records to make")
    ap.add_argument("-c", type=int, default=64, help="concurrency (engine slots and HTTP connections)")
    ap.add_argument("--mode", choices=["engine", "backend"], default="engine")
    ap.add_argument("--keep", default=None, help="keep the run dir and output in this folder (default: a temp dir)")
    ap.add_argument("--profile", default=None, help="write a cProfile dump here")
    a = ap.parse_args()
    try:
        import uvloop  # the peers' stub uses it; synthloom does not need it
        if os.environ.get("SYNTHLOOM_BENCH_UVLOOP") == "1":
            uvloop.install()
    except ImportError:
        pass
    # import everything the run needs before the clock starts, as the peers' runners do
    import synthloom.engine  # noqa: F401
    import synthloom.runs.writers  # noqa: F401
    import synthloom.generators  # noqa: F401
    import synthloom.llm.factory  # noqa: F401
    import synthloom.llm.openai_compat  # noqa: F401  (aiohttp)
    import synthloom.quality  # noqa: F401
    # the registry imports a technique's module on first use, and schema checks import jsonschema (and its
    # format checkers: ~120 ms) lazily: imported here too, or the clock would count them
    import jsonschema  # noqa: F401
    import jsonschema._format  # noqa: F401
    import synthloom.generators.schema  # noqa: F401
    if a.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    cpu0 = time.process_time()
    if a.mode == "engine":
        n, wall = run_engine(a.port, a.n, a.c, a.keep)
    else:
        n, wall = asyncio.run(run_backend(a.port, a.n, a.c))
    cpu = time.process_time() - cpu0  # this process's CPU: steadier than wall time on a busy machine
    if a.profile:
        prof.disable()
        prof.dump_stats(a.profile)
    name = "synthloom" if a.mode == "engine" else "synthloom-backend"
    print(f"RESULT framework={name} n={n} wall={wall:.3f} rps={n / wall:.1f} "
          f"cpu_us_per_record={cpu / max(n, 1) * 1e6:.0f}")


if __name__ == "__main__":
    main()
