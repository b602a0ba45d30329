"""Decontamination at 100,000 benchmark items: index build, cached load, time per checked record, recall of
planted copies, and precision on the hand-written planted set.

    python benchmarks/decontaminate_index.py                 # 100k items, 2,000 checked records
    python benchmarks/decontaminate_index.py --items 20000 --embed-all   # MiniLM vectors of every item too

Benchmark items are quiz questions made here from templates and the 20,362 whole English words of
MiniLM's vocabulary (25-45 words each, like GSM8K or MMLU questions). The checked records are 90%
fresh questions from the same generator and 10% planted copies of random items: verbatim, embedded in a longer request, or with
one word changed a third of the way in. MiniLM vectors of all 100k items take long on 2 cores (the
throughput is measured on --embed-sample items and the full time extrapolated); the cosine step's
speed at 100k is measured on a 100k x 384 matrix of unit vectors (a matrix product does not care
what the vectors say). Precision and recall of all three measures, cosine included, come from the
planted set of tests/helpers/decontaminate_cases.py (72 contaminated, 18 same-topic questions).
Results: benchmarks/results/decontaminate.json; docs/benchmarks_decontaminate.md records them.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

OPEN = ["A {a} {b} has", "In the {a} of {b}, a {c} holds", "Every {a} in {b} keeps", "The {a} called {b} moves",
        "Suppose a {a} near {b} stores", "At the {a} fair in {b}, one {c} sells"]
MIDDLE = ["{n} {a} and {m} {b}", "{n} crates of {a} each weighing {m} kilograms", "a {a} that is {n} metres long",
          "{n} rows of {a} with {m} {b} in each row", "a stack of {n} {a} priced at {m} coins each"]
ASK = ["How many {a} are there in all?", "What is the total weight of the {a} in kilograms?",
       "Which {a} is the odd one out, and why?", "How long does it take to move every {a} to {b}?",
       "Explain why the {a} cannot exceed {n} {b}.", "What fraction of the {a} is left after {n} are sold?"]


def vocab() -> list[str]:
    """English words: the whole words of MiniLM's own vocabulary (one word piece each, as in real text)."""
    from synthloom.quality.embeddings import bundled_minilm_path

    pieces = json.loads((bundled_minilm_path() / "tokenizer.json").read_text())["model"]["vocab"]
    return sorted(w for w in pieces if w.isalpha() and w.isascii() and w.islower() and len(w) >= 4)


def question(rng: random.Random, words: list[str]) -> str:
    def fill(t: str) -> str:
        return t.format(a=rng.choice(words), b=rng.choice(words), c=rng.choice(words), n=rng.randrange(2, 500),
                        m=rng.randrange(2, 90))
    parts = [fill(rng.choice(OPEN)), fill(rng.choice(MIDDLE)) + ";", "then", fill(rng.choice(MIDDLE)) + ".",
             fill(rng.choice(ASK))]
    if rng.random() < 0.5:
        parts.insert(4, "Each " + fill("{a} also needs {n} {b}."))
    return " ".join(parts)


def planted_copy(rng: random.Random, q: str) -> tuple[str, str]:
    from helpers.decontaminate_cases import edited, embedded

    kind = rng.choice(("verbatim", "embedded", "edited"))
    return kind, {"verbatim": q, "embedded": embedded(q), "edited": edited(q)}[kind]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def du_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--embed-sample", type=int, default=500)
    ap.add_argument("--gate-records", type=int, default=100)
    ap.add_argument("--embed-all", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "decontaminate.json"))
    args = ap.parse_args()

    from synthloom.quality.decontam_index import BenchmarkIndex, Thresholds
    from synthloom.quality.decontaminate import Checker, decontaminate_file
    from synthloom.quality.embeddings import make_embedder

    work = Path(tempfile.mkdtemp(prefix="decontam-bench-"))
    os.environ["SYNTHLOOM_CACHE"] = str(work / "cache")
    rng = random.Random(0)
    words = vocab()
    items = [question(rng, words) for _ in range(args.items)]
    bench = work / "bench.jsonl"
    bench.write_text("".join(json.dumps({"id": f"q{i}", "question": q}) + "\n" for i, q in enumerate(items)))
    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load_before": os.getloadavg()[0],
                 "items": args.items, "mean_words": round(float(np.mean([len(q.split()) for q in items])), 1),
                 "bench_mib": round(bench.stat().st_size / 2**20, 1)}

    t = time.perf_counter()
    ix = BenchmarkIndex("bench", bench, fields=["question"])
    out["build_s"] = round(time.perf_counter() - t, 2)
    out["built"] = ix.built
    t = time.perf_counter()
    ix = BenchmarkIndex("bench", bench, fields=["question"])
    out["load_cached_s"] = round(time.perf_counter() - t, 3)
    assert ix.built == []

    # records: fresh questions and planted copies
    recs, truth = [], []
    for _ in range(args.records):
        if rng.random() < 0.1:
            j = rng.randrange(len(items))
            kind, text = planted_copy(rng, items[j])
            recs.append(text)
            truth.append((kind, f"q{j}"))
        else:
            recs.append(question(rng, words))
            truth.append(("fresh", None))
    th = Thresholds(cosine=None)
    checker = Checker([ix], th)
    t = time.perf_counter()
    pairs = checker.closest(recs)
    wall = time.perf_counter() - t
    out["lexical_ms_per_record"] = round(1000 * wall / len(recs), 3)
    found = {k: [0, 0] for k in ("verbatim", "embedded", "edited", "fresh")}
    for (kind, item), p in zip(truth, pairs):
        hit = p is not None and bool(p.fired) and (kind == "fresh" or p.item == item)
        found[kind][0] += hit
        found[kind][1] += 1
    out["lexical_found"] = {k: f"{a}/{b}" for k, (a, b) in found.items()}

    # cosine: MiniLM throughput, and the cosine step at full size
    emb = make_embedder()
    sample = items[: args.embed_sample]
    emb.embed(sample[:16])
    if args.embed_all:
        t = time.perf_counter()
        ix.embed(emb)
        out["embed_all_s"] = round(time.perf_counter() - t, 1)
    else:
        vecs = np.random.default_rng(0).standard_normal((args.items, 384), dtype=np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        ix.vectors = vecs
    checker = Checker([ix], Thresholds(), embedder=emb)
    n_gate = min(args.gate_records, len(recs))
    try:  # OpenBLAS's threads, on a loaded machine, cost more than they give on MiniLM's small matrices
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    for label, limit in (("", None), ("_1_blas_thread", 1)):
        if limit and threadpool_limits is None:
            continue
        ctx = threadpool_limits(limit) if limit else contextlib.nullcontext()
        with ctx:
            t = time.perf_counter()
            emb.embed(sample)
            per_item = (time.perf_counter() - t) / len(sample)
            out["minilm_items_per_s" + label] = round(1 / per_item, 1)
            out["minilm_all_items_extrapolated_min" + label] = round(per_item * args.items / 60, 1)
            t = time.perf_counter()
            for r in recs[:n_gate]:  # what the gate does per candidate: embed it, then every measure
                checker.closest([r], checker.vectors([r]))
            out["gate_ms_per_record" + label] = round(1000 * (time.perf_counter() - t) / n_gate, 2)
            v = checker.vectors(recs[:n_gate])
            t = time.perf_counter()
            for i in range(n_gate):
                ix.similarities(v[i : i + 1])
            out["cosine_step_ms_per_record" + label] = round(1000 * (time.perf_counter() - t) / n_gate, 2)
            t = time.perf_counter()
            checker.closest(recs[:n_gate], v)
            out["file_ms_per_record_given_vectors" + label] = round(1000 * (time.perf_counter() - t) / n_gate, 2)
    out["cache_mib"] = round(du_mib(work / "cache"), 1)
    out["peak_rss_mib"] = round(rss_mib(), 0)

    # precision on the hand-written planted set (all three measures, default thresholds)
    from helpers.decontaminate_cases import BENCHMARKS, planted

    rows = planted()
    src = work / "planted.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = decontaminate_file(src, work / "clean.jsonl", BENCHMARKS, fields=["instruction"], hits=work / "hits.jsonl")
    flagged = {json.loads(line)["line"]: json.loads(line) for line in (work / "hits.jsonl").read_text().splitlines()}
    per = {}
    for n, r in enumerate(rows, 1):
        h = flagged.get(n)
        ok = h is not None and h["item"] == r["item"]
        d = per.setdefault(r["case"], {"flagged": 0, "right_item": 0, "n": 0, "by": {}})
        d["n"] += 1
        d["flagged"] += h is not None
        d["right_item"] += ok
        if h:
            d["by"][h["measure"]] = d["by"].get(h["measure"], 0) + 1
    tp = sum(per[c]["right_item"] for c in per if c != "distinct")
    out["planted"] = per
    out["planted_precision"] = round(tp / max(1, res.contaminated), 4)
    out["planted_recall"] = round(tp / sum(per[c]["n"] for c in per if c != "distinct"), 4)
    out["load_after"] = os.getloadavg()[0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
