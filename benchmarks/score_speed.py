"""Rows per second of `synthloom score`'s signals (relevance, fluency, completeness), each alone and together.

The rows are the ROC-AUC sets of `signals_auc.py` (the 199 human-written pairs, and their shuffled, cut
and word-shuffled copies), interleaved so that any prefix mixes the four kinds; `--rows N` takes the
first N. Every signal goes through `synthloom.quality.score.score_rows`, the code behind
`synthloom score`; the models are loaded and warmed on two rows before the clock starts (loading is a
one-off per process, reported apart). `--json` writes every row's scores, so two runs (before and after
a change, on the same rows) can be compared row by row with `--compare OTHER.json`.

    flock /tmp/synthloom-model.lock python benchmarks/score_speed.py [--rows N] [--fluency-every K] [--json out.json] [--compare before.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from signals_auc import DATA, make_sets  # noqa: E402

from synthloom.cores import idle_cores  # noqa: E402
from synthloom.quality.score import score_rows  # noqa: E402


def rows_of(n: int | None) -> list[dict]:
    pairs = [json.loads(l) for l in DATA.read_text(encoding="utf-8").splitlines() if l.strip()]
    sets = make_sets(pairs)
    kinds = ["good", "shuffled", "cut", "word-shuffled"]
    mixed = [sets[k][i] for i in range(len(pairs)) for k in kinds]
    return mixed[:n] if n else mixed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--signals", default="completeness,relevance,fluency")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--compare", type=Path, default=None, help="scores of another run on the same rows")
    ap.add_argument("--texts-per-call", type=int, default=None, help="fluency: at most this many texts per llama_decode")
    ap.add_argument("--fluency-every", type=int, default=1, help="fluency: the perplexity from every K-th token")
    ap.add_argument("--threads", type=int, default=None,
                    help="llama.cpp and BLAS threads (default: the cores idle when each model loads, as in synthloom score)")
    args = ap.parse_args()
    if args.texts_per_call:
        from synthloom.quality import fluency

        fluency.MAX_SEQS = args.texts_per_call
    rows = rows_of(args.rows)
    names = [s for s in args.signals.split(",") if s]
    print(f"{len(rows)} rows; load average {os.getloadavg()[0]:.1f}; idle cores now {idle_cores():.1f} of {os.cpu_count()}")
    t = time.perf_counter()
    if args.threads:  # the scorers that score_rows takes, made with a fixed thread count
        from synthloom.quality import fluency
        from synthloom.quality.embeddings import make_embedder

        if "fluency" in names:
            import atexit

            fluency._SCORERS[None] = fluency.FluencyScorer(n_threads=args.threads)
            atexit.register(fluency.close_scorers)
        make_embedder()._threads = args.threads
    every = {"fluency_every": args.fluency_every} if args.fluency_every != 1 else {}
    score_rows(rows[:2], names, **every)  # loads MiniLM and the GGUF once
    print(f"models loaded and warmed in {time.perf_counter() - t:.1f} s")
    if "fluency" in names:
        from synthloom.quality.fluency import fluency_scorer

        print(f"llama.cpp threads (fluency): {fluency_scorer().threads}")
    if "relevance" in names:
        from synthloom.quality.embeddings import make_embedder

        print(f"BLAS threads (relevance): {make_embedder()._threads}")
    result: dict = {"rows": len(rows), "rows_per_s": {}}
    for sig in names + (["all"] if len(names) > 1 else []):
        t = time.perf_counter()
        scores = score_rows(rows, names if sig == "all" else [sig], **every)
        took = time.perf_counter() - t
        result["rows_per_s"][sig] = len(rows) / took
        print(f"{sig:13s} {len(rows)} rows in {took:7.1f} s: {len(rows) / took:7.2f} rows/s")
    result["scores"] = scores
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if args.compare:
        other = json.loads(args.compare.read_text())["scores"]
        for key in ("relevance", "completeness", "perplexity"):
            pairs = [(a.get(key), b.get(key)) for a, b in zip(scores, other)]
            both = [(a, b) for a, b in pairs if isinstance(a, (int, float)) and isinstance(b, (int, float))]
            if not both:
                continue
            rel = [abs(a - b) / max(abs(b), 1e-9) for a, b in both]
            same_none = sum(1 for a, b in pairs if (a is None) != (b is None))
            print(f"{key}: {len(both)} rows compared; max relative difference {max(rel):.2e}, "
                  f"mean {sum(rel) / len(rel):.2e}, identical {sum(1 for a, b in both if a == b)}; "
                  f"scored in one run only: {same_none}")


if __name__ == "__main__":
    main()
