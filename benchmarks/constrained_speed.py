"""Constrained vs unconstrained decoding speed on the bundled model.

Same few-shot prompt, same seeds, several runs; the modes are interleaved run by
run so that a busy machine slows them all alike. Reports output tokens per
second of decoding (completion tokens / request latency; the shared prompt
prefix stays in the KV cache, so latency is nearly all decoding) and the ratio
to free decoding.

    python benchmarks/constrained_speed.py --runs 8 --out docs/constrained_speed.md

Modes:
  none              free decoding, JSON parsed afterwards
  llguidance        the default: llguidance mask + grammar-forced tokens in one batch
  llguidance-mask   llguidance mask only, every token sampled (isolates the mask's cost)
  grammar           llama.cpp's own GBNF grammar sampler
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from synthloom.config.models import LlamaCppModel
from synthloom.llm.llamacpp import LlamaCppLLM
from synthloom.llm.types import GenerationRequest

SCHEMA = {
    "type": "object",
    "properties": {
        "customer": {"type": "string"},
        "issue": {"type": "string", "enum": ["double charge", "refund request", "cancellation", "wrong invoice"]},
        "priority": {"type": "string", "enum": ["low", "medium", "high"]},
        "amount": {"type": "number", "minimum": 0},
        "message": {"type": "string"},
    },
    "required": ["customer", "issue", "priority", "amount", "message"],
    "additionalProperties": False,
}
EXAMPLES = [
    {"customer": "Maria Lopez", "issue": "double charge", "priority": "high", "amount": 49.99,
     "message": "I was billed twice for my March subscription. Please refund the second charge."},
    {"customer": "Tom Becker", "issue": "wrong invoice", "priority": "medium", "amount": 120.0,
     "message": "My invoice lists the Pro plan but I am on the Basic plan since January."},
]
MESSAGES = (
    {"role": "system", "content": "Write one customer support ticket about a billing problem as a JSON record."},
    {"role": "user", "content": "a ticket"},
    {"role": "assistant", "content": json.dumps(EXAMPLES[0])},
    {"role": "user", "content": "a ticket"},
    {"role": "assistant", "content": json.dumps(EXAMPLES[1])},
    {"role": "user", "content": "a ticket"},
)

MODES = ["none", "llguidance", "llguidance-mask", "grammar"]


def make_backend(mode: str, n_threads: int | None) -> LlamaCppLLM:
    constrained = "llguidance" if mode.startswith("llguidance") else mode
    backend = LlamaCppLLM(LlamaCppModel(constrained=constrained, n_threads=n_threads))
    backend.fast_forward = mode != "llguidance-mask"
    return backend


async def measure(modes: list[str], runs: int, max_tokens: int, n_threads: int | None) -> dict[str, list[tuple]]:
    backends = {m: make_backend(m, n_threads) for m in modes}
    samples: dict[str, list[tuple]] = {m: [] for m in modes}
    try:
        for mode, b in backends.items():  # warm-up: load, compile the schema, fill the prompt cache
            await b.generate([GenerationRequest(messages=MESSAGES, json_schema=SCHEMA, max_tokens=8, seed=0)])
        for run in range(runs):
            for mode in modes:
                req = GenerationRequest(messages=MESSAGES, json_schema=SCHEMA, max_tokens=max_tokens,
                                        seed=1000 + run, temperature=0.8)
                (r,) = await backends[mode].generate([req])
                samples[mode].append((r.completion_tokens, r.latency_s, r.parsed is not None, r.finish_reason))
                print(f"run {run} {mode:16s} {r.completion_tokens:4d} tok {r.latency_s:6.2f}s "
                      f"{r.completion_tokens / r.latency_s:6.1f} tok/s parsed={r.parsed is not None}",
                      file=sys.stderr, flush=True)
    finally:
        for b in backends.values():
            await b.aclose()
    return samples


def summarize(samples: dict[str, list[tuple]]) -> list[dict]:
    rows = []
    base = None
    for mode, xs in samples.items():
        tok = sum(x[0] for x in xs)
        secs = sum(x[1] for x in xs)
        per_run = [x[0] / x[1] for x in xs if x[1] > 0]
        row = {
            "mode": mode,
            "tok_s": tok / secs if secs else 0.0,
            "median_tok_s": statistics.median(per_run) if per_run else 0.0,
            "mean_tokens": tok / len(xs),
            "mean_s": secs / len(xs),
            "valid_json": sum(1 for x in xs if x[2]) / len(xs),
        }
        if mode == "none":
            base = row["tok_s"]
        rows.append(row)
    for row in rows:
        row["ratio"] = row["tok_s"] / base if base else float("nan")
    return rows


def markdown(rows: list[dict], runs: int, max_tokens: int, n_threads: int | None) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"Bundled Gemma 3 270M Q4_K_M, {runs} runs per mode (interleaved), max_tokens={max_tokens}, "
        f"n_threads={n_threads or 'default'}, {os.cpu_count()} CPUs, load average {load:.1f}, "
        f"{platform.machine()}, {time.strftime('%Y-%m-%d')}.",
        "",
        "| mode | tokens/s (total) | median tokens/s | x free | tokens/record | s/record | valid JSON |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['tok_s']:.1f} | {r['median_tok_s']:.1f} | {r['ratio']:.2f} | "
            f"{r['mean_tokens']:.0f} | {r['mean_s']:.2f} | {r['valid_json']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the backend's)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {MODES}")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if "none" not in modes:
        modes.insert(0, "none")
    samples = asyncio.run(measure(modes, args.runs, args.max_tokens, args.threads))
    md = markdown(summarize(samples), args.runs, args.max_tokens, args.threads)
    print(md)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)


if __name__ == "__main__":
    main()
