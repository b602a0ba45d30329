"""Near-duplicate dedup of N short records (default 1,000,000): time and peak memory per MinHash backend.

    python benchmarks/dedup_1m.py                      # all backends, 1M records, each in its own process
    python benchmarks/dedup_1m.py --n 100000 --backend rensa

Records are short synthetic support messages (about 100 characters) made from
word lists plus 2-5 words drawn from a 5,000-word made-up vocabulary (names,
places, model numbers), and 10% are copies of an earlier record with one or
two words edited (true near-duplicates). The whole `synthloom dedup --method minhash`
path is timed: normalisation + exact-hash pass, char 5-gram shingles,
signatures (128 permutations), banded LSH, and exact-Jaccard confirmation.
Results are written to benchmarks/results/dedup_1m.json; docs/benchmarks_dedup.md records them.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

GREET = ["hi", "hello", "hey", "dear support", "good morning", "excuse me", "urgent", "help"]
PRODUCT = ["phone", "laptop", "router", "subscription", "invoice", "headphones", "tablet", "account", "printer",
           "camera", "watch", "charger", "monitor", "keyboard", "speaker", "license"]
PROBLEM = ["stopped working", "was charged twice", "arrived broken", "keeps restarting", "will not connect",
           "shows error {n}", "is missing a part", "was never delivered", "overheats after {n} minutes",
           "lost all my data", "has a cracked screen", "is billed at the wrong price"]
WHEN = ["yesterday", "this morning", "last week", "on {d} March", "after the update", "since order {n}",
        "two days ago", "right after I opened it"]
ASK = ["please refund me", "can you replace it", "what should I do", "I want my money back", "please call me",
       "send a technician", "cancel my order", "fix this today"]
EDIT = {"please": "pls", "my": "the", "was": "got", "after": "following", "can": "could", "what": "so what"}


def _vocab(rng: random.Random, size: int = 5000) -> list[str]:
    syll = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fu", "ge", "ho", "ji", "ze", "pa", "qui", "wy"]
    return ["".join(rng.choice(syll) for _ in range(rng.choice((2, 3, 3, 4)))) for _ in range(size)]


def make_records(n: int, seed: int = 0, sources: dict[int, int] | None = None) -> list[str]:
    """n records; `sources` (if given) gets {index of an edited copy: index of its original}."""
    rng = random.Random(seed)
    vocab = _vocab(rng)
    out: list[str] = []
    for i in range(n):
        if i > 100 and rng.random() < 0.10:
            src = rng.randrange(len(out))
            if sources is not None:
                sources[i] = src
            words = out[src].split()
            for _ in range(rng.choice((1, 2))):
                j = rng.randrange(len(words))
                words[j] = EDIT.get(words[j], words[j] + "s")
            out.append(" ".join(words))
            continue
        n1, d = rng.randrange(100, 99999), rng.randrange(1, 29)
        detail = " ".join(rng.sample(vocab, rng.randint(2, 5)))  # names, places, model numbers...
        out.append(f"{rng.choice(GREET)}, my {rng.choice(PRODUCT)} {detail} {rng.choice(PROBLEM).format(n=n1)} "
                   f"{rng.choice(WHEN).format(n=n1, d=d)}, {rng.choice(ASK)}.")
    return out


def run_one(n: int, backend: str, threshold: float) -> dict:
    from synthloom.quality.dedup import dedup_texts

    from synthloom.quality.text import jaccard, shingles

    t0 = time.perf_counter()
    sources: dict[int, int] = {}
    texts = make_records(n, sources=sources)
    t1 = time.perf_counter()
    c1 = time.process_time()
    marks = dedup_texts(texts, "minhash", threshold, backend=backend)
    t2 = time.perf_counter()
    c2 = time.process_time()
    dropped = sum(m is not None for m in marks)
    # recall on the planted near-duplicates: edited copies whose true Jaccard with their original is >= threshold
    # (when the original was itself dropped, the copy may rightly match whatever replaced it)
    planted = [i for i, src in sources.items() if jaccard(shingles(texts[i]), shingles(texts[src])) >= threshold]
    caught = sum(1 for i in planted if marks[i] is not None)
    return {
        "n": n, "backend": backend, "threshold": threshold, "make_s": round(t1 - t0, 2),
        "dedup_s": round(t2 - t1, 2), "dedup_cpu_s": round(c2 - c1, 2), "records_per_s": round(n / (t2 - t1)), "dropped": dropped,
        "dropped_share": round(dropped / n, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "mean_chars": round(sum(map(len, texts)) / n, 1),
        "planted_near_dups": len(planted), "planted_caught": caught,
        "recall_on_planted": round(caught / len(planted), 4) if planted else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=["rensa", "datasketch", "numpy", "all"], default="all")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dedup_1m.json")
    ap.add_argument("--datasketch-n", type=int, default=None,
                    help="records for the slower backends (datasketch, numpy); default: --n")
    args = ap.parse_args()
    if args.backend != "all":
        print(json.dumps(run_one(args.n, args.backend, args.threshold)))
        return
    results = []
    for backend in ("rensa", "datasketch", "numpy"):
        n = args.n if backend == "rensa" else (args.datasketch_n or args.n)
        proc = subprocess.run([sys.executable, __file__, "--n", str(n), "--backend", backend,
                               "--threshold", str(args.threshold)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"{backend:10s} n={res['n']:>9,}  dedup {res['dedup_s']:7.1f}s wall {res['dedup_cpu_s']:7.1f}s cpu  "
              f"{res['records_per_s']:>8,} rec/s  "
              f"dropped {res['dropped_share']:.1%}  recall on planted {res['recall_on_planted']:.1%}  peak RSS {res['peak_rss_mib']:,.0f} MiB", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
                                    "results": results}, indent=2))


if __name__ == "__main__":
    main()
