"""Batched decoding in the llamacpp backend: tokens/s against batch width, and the demo recipe side by side.

    python benchmarks/batched_decoding.py [--requests 16] [--widths 1,2,4,8,16] [--records 12]
                                          [--demo-widths 8] [--out docs/benchmarks_batched.md]

Part 1 decodes the same requests (the demo recipe's first slots: its prompts, schema, sampling and
seeds) with the single-sequence path and with the batched path at each width, in one process on one
loaded model, and reports aggregate completion tokens/s, the prompt tokens evaluated (a shared prefix
is evaluated once) and how many outputs are identical to the single-sequence ones.

Part 2 runs examples/billing-tickets.yaml through the engine (records accepted per second, gates
and store included) with `model.batch: 1` and with batching, alternately, on warm models (the load
is timed apart). Target: batched >= 3x single, on this 2-core machine.

The machine is shared: every row carries the 1-minute load average when it ended.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from synthloom import load_recipe, run_recipe
from synthloom.config.models import LlamaCppModel
from synthloom.generators import build_generator
from synthloom.generators.base import GenContext
from synthloom.llm.llamacpp import LlamaCppLLM

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "billing-tickets.yaml"


def load() -> float:
    return os.getloadavg()[0]


def demo_requests(n: int) -> list:
    recipe = load_recipe(RECIPE, {"count": n})
    gen = build_generator(recipe.generate, ROOT / "examples")
    ctx = GenContext(llm=None, seed=recipe.engine.seed, target=n)  # type: ignore[arg-type]
    return [gen.request_for(slot, ctx)[0] for slot in range(n)]


def curve(n: int, widths: list[int]) -> list[str]:
    reqs = demo_requests(n)
    llm = LlamaCppLLM(LlamaCppModel(batch=1))
    t0 = time.perf_counter()
    llm.generate_sync(reqs[:1])  # load the model and the tokenizer; warm the single path
    load_s = time.perf_counter() - t0
    rows = []
    t0, c0 = time.perf_counter(), time.process_time()
    single = llm.generate_sync(reqs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    toks = sum(r.completion_tokens for r in single)
    rows.append(("single-sequence path", wall, cpu, toks, sum(r.prompt_tokens for r in single), "-", n, load()))
    print(rows[-1], flush=True)
    for w in widths:
        llm._cfg = llm._cfg.model_copy(update={"batch": w})
        t0 = time.perf_counter()
        dec = llm._batched()
        ctx_s = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        # the decoder directly: at width 1 the backend's generate_sync would take the single-sequence path
        decoded = dec.run([llm._prepare(r) for r in reqs])
        out = [llm._from_decoded(r, d) for r, d in zip(reqs, decoded)]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        toks = sum(r.completion_tokens for r in out)
        same = sum(a.text == b.text for a, b in zip(out, single))
        st = dec.stats
        rows.append((f"batched, width {w}", wall, cpu, toks, st.prompt_evaluated, f"{st.rows / max(st.steps, 1):.1f}", same,
                     load()))
        print(rows[-1], f"context {ctx_s:.1f}s decode {st.decode_s:.1f}s sample {st.sample_s:.1f}s", flush=True)
        dec.close()
        llm._decoder = None
    llm._unload()
    base_wall, base_cpu = rows[0][3] / rows[0][1], rows[0][3] / rows[0][2]
    lines = [
        f"### Aggregate tokens/s against batch width ({n} demo requests, {platform.machine()}, "
        f"{os.cpu_count()} cores, 1 thread; model load {load_s:.0f} s, not counted)",
        "",
        "| path | wall s | CPU s | completion tokens | tokens/s (wall) | vs single | tokens per CPU s | vs single "
        "| prompt tokens evaluated | rows per step | outputs identical to single | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, wall, cpu, toks, prompt, per_step, same, la in rows:
        lines.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {toks} | {toks / wall:.1f} | {toks / wall / base_wall:.2f}x "
                     f"| {toks / cpu:.1f} | {toks / cpu / base_cpu:.2f}x | {prompt} | {per_step} | {same}/{n} | {la:.1f} |")
    return lines


def demo(records: int, widths: list[int], once: bool = False) -> list[str]:
    recipe = load_recipe(RECIPE, {"count": records})
    tmp = Path(tempfile.mkdtemp())
    llms = {1: LlamaCppLLM(LlamaCppModel(batch=1))}
    for w in widths:
        llms[w] = LlamaCppLLM(LlamaCppModel(batch=w))
    warm = demo_requests(1)
    for w, llm in llms.items():
        llm.generate_sync(warm)
    order = [1, *widths] if once else [1, *widths, *reversed(widths), 1]  # alternated: load changes hit both
    results: dict[int, list[tuple[float, float, int, int, int, float]]] = {w: [] for w in llms}
    try:
        for i, w in enumerate(order):
            c0 = time.process_time()
            # the demo recipe pins engine.concurrency: 1; a batched model needs `w` requests in flight to fill its batch
            run = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"concurrency": w})})
            summary = run_recipe(run, base_dir=ROOT / "examples", output=tmp / f"{i}.jsonl", llm=llms[w])
            cpu = time.process_time() - c0
            results[w].append((summary.wall_s, cpu, summary.accepted, summary.calls, summary.completion_tokens, load()))
            print(w, results[w][-1], flush=True)
    finally:
        for llm in llms.values():
            llm._unload()
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        f"### Demo recipe through the engine ({records} records of examples/billing-tickets.yaml, warm models, "
        "runs alternated)",
        "",
        "| model.batch | engine concurrency | run | wall s | CPU s | accepted | records/s (wall) | records per CPU s "
        "| calls | completion tokens | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rate, rate_cpu = {}, {}
    for w, runs in results.items():
        for k, (wall, cpu, acc, calls, toks, la) in enumerate(runs):
            lines.append(f"| {w} | {w} | {k + 1} | {wall:.1f} | {cpu:.1f} | {acc} | {acc / wall:.3f} | {acc / cpu:.3f} "
                         f"| {calls} | {toks} | {la:.1f} |")
        rate[w] = sum(r[2] for r in runs) / sum(r[0] for r in runs)
        rate_cpu[w] = sum(r[2] for r in runs) / sum(r[1] for r in runs)
    lines.append("")
    for w in widths:
        lines.append(f"Batched (width {w}) / single: **{rate[w] / rate[1]:.2f}x** accepted records/s by wall time "
                     f"({rate[w]:.3f} vs {rate[1]:.3f}), **{rate_cpu[w] / rate_cpu[1]:.2f}x** by CPU time "
                     f"({rate_cpu[w]:.3f} vs {rate_cpu[1]:.3f}); runs pooled.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--widths", default="1,2,4,8,16")
    ap.add_argument("--records", type=int, default=12)
    ap.add_argument("--demo-widths", default="8")
    ap.add_argument("--skip-curve", action="store_true")
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--once", action="store_true", help="one demo run per mode instead of two, alternated")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks_batched_run.md"))
    a = ap.parse_args()
    lines = [f"Load average at start: {load():.1f}", ""]
    if not a.skip_curve:
        lines += curve(a.requests, [int(w) for w in a.widths.split(",")]) + [""]
    if not a.skip_demo:
        lines += demo(a.records, [int(w) for w in a.demo_widths.split(",")], a.once) + [""]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
