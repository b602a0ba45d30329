"""Flat attribute axes vs planned variety (samplers + personas + a topic tree), same budget, bundled model.

    python benchmarks/variety.py [--count 40] [--out benchmarks/results/variety]

Runs benchmarks/variety/flat.yaml and planned.yaml (same schema, examples, sampling, gates, seed and
attempt budget) and measures the accepted records' text (body and subject): distinct-1/2, Vendi score
and mean pairwise distance on MiniLM embeddings, embedding coverage (how many balls of cosine
similarity 0.8 it takes to cover the records, greedy), and the near-duplicates the minhash gate
rejected. Writes results.json and, for reading, the first twenty records of each run (records-*.jsonl).
Results: docs/benchmarks_variety.md.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from synthloom.engine import run_recipe
from synthloom.engine.recipe_file import load_recipe
from synthloom.quality.diversity import diversity_metrics
from synthloom.quality.embeddings import make_embedder
from synthloom.runs import open_store

HERE = Path(__file__).resolve().parent


def cover(vectors: np.ndarray, similarity: float = 0.8) -> int:
    """How many balls (cosine similarity >= `similarity` to a centre) cover the vectors, greedy in order."""
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centres: list[np.ndarray] = []
    for x in v:
        if not centres or max(float(c @ x) for c in centres) < similarity:
            centres.append(x)
    return len(centres)


def measure(name: str, count: int, out: Path, embedder) -> dict:
    recipe = load_recipe(HERE / "variety" / f"{name}.yaml", {"count": count})
    run_dir = out / name
    t = time.perf_counter()
    summary = run_recipe(recipe, base_dir=HERE / "variety", output=run_dir)
    wall = time.perf_counter() - t
    with open_store(run_dir) as store:
        records = store.accepted_records()
        counts = store.rejection_counts()
    texts = [f"{r.data.get('subject', '')}\n{r.data.get('body', '')}" for r in records]
    metrics = diversity_metrics(texts, embedder)
    metrics["embedding_cover_0.8"] = cover(embedder.embed(texts)) if texts else 0
    with open(out / f"records-{name}.jsonl", "w") as fh:
        for r in records[:20]:
            fh.write(json.dumps({**r.data, "_attributes": r.meta.get("attributes")}, ensure_ascii=False) + "\n")
    return {"recipe": name, "accepted": summary.accepted, "attempts": summary.funnel.get("generated"),
            "calls": summary.calls, "wall_s": round(wall, 1),
            "rejections": {f"{s}:{r}": n for s, r, n in counts if s != "surplus"},
            "near_duplicates_rejected": sum(n for s, _r, n in counts if s == "dedup"),
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "variety")
    ap.add_argument("--only", choices=["flat", "planned"])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    embedder = make_embedder()
    results = [measure(n, args.count, args.out, embedder) for n in ("flat", "planned") if args.only in (None, n)]
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
