"""How well each quality signal separates good instruction/response pairs from three kinds of bad ones.

Good: the 199 human-written pairs in benchmarks/data/human_pairs.jsonl (written
for this project, Apache-2.0 like the code). Bad, made from them (seeded):

- shuffled: each response paired with another pair's instruction (a derangement);
- cut: each response cut at a random character between 20% and 90% of its length;
- word-shuffled: each response's words in a random order.

For instruction form, the bad set is the responses' first lines used as
instructions (statements, not requests), and the good set the real instructions.

Every score comes through `synthloom.quality.score.score_rows`, the code behind
`synthloom score`. Prints a Markdown table of ROC AUC per signal and bad kind
(higher score = better; perplexity negated), plus the share rejected at the
default thresholds; `--json` writes the raw numbers.

    PYTHONPATH=src python benchmarks/signals_auc.py [--limit N] [--no-fluency] [--fluency-every K] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from synthloom.quality.score import score_rows

DATA = Path(__file__).resolve().parent / "data" / "human_pairs.jsonl"


def auc(good: list[float], bad: list[float]) -> float:
    """P(score of a good item > score of a bad one), ties counted half (Mann-Whitney U / (n*m))."""
    g, b = np.asarray(good, float), np.asarray(bad, float)
    if len(g) == 0 or len(b) == 0:
        return float("nan")
    greater = (g[:, None] > b[None, :]).sum()
    ties = (g[:, None] == b[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(g) * len(b)))


def make_sets(pairs: list[dict], seed: int = 0) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    n = len(pairs)
    perm = list(range(n))
    while any(i == p for i, p in enumerate(perm)):
        rng.shuffle(perm)
    shuffled = [{"instruction": pairs[i]["instruction"], "output": pairs[perm[i]]["output"]} for i in range(n)]
    cut = []
    for p in pairs:
        out = p["output"]
        at = rng.randint(max(1, int(0.2 * len(out))), max(1, int(0.9 * len(out))))
        cut.append({"instruction": p["instruction"], "output": out[:at].rstrip() or out[:1]})
    word_shuffled = []
    for p in pairs:
        words = p["output"].split()
        rng.shuffle(words)
        word_shuffled.append({"instruction": p["instruction"], "output": " ".join(words)})
    statements = [{"instruction": p["output"].strip().splitlines()[0], "output": p["output"]} for p in pairs
                  if not p["output"].lstrip().startswith("```")]
    return {"good": pairs, "shuffled": shuffled, "cut": cut, "word-shuffled": word_shuffled, "statements": statements}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-fluency", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--fluency-every", type=int, default=1, help="fluency: the perplexity from every K-th token")
    args = ap.parse_args()
    pairs = [json.loads(l) for l in DATA.read_text(encoding="utf-8").splitlines() if l.strip()][: args.limit]
    sets = make_sets(pairs)
    signals = ["relevance", "completeness", "form"] + ([] if args.no_fluency else ["fluency"])
    scores: dict[str, list[dict]] = {}
    timings: dict[str, float] = {}
    for name, rows in sets.items():
        t = time.perf_counter()
        names = ["form"] if name == "statements" else signals
        if name == "shuffled" and "fluency" in names:  # the same responses as the good set: the same perplexities
            names = [s for s in names if s != "fluency"]
        scores[name] = score_rows(rows, names, **({"fluency_every": args.fluency_every} if args.fluency_every != 1 else {}))
        if name == "shuffled" and "fluency" in signals:
            for s, g in zip(scores[name], scores["good"]):
                s["perplexity"] = g["perplexity"]
        timings[name] = time.perf_counter() - t

    def col(name: str, key: str) -> list[float]:
        vals = [s.get(key) for s in scores[name]]
        vals = [float(v) for v in vals if isinstance(v, (int, float))]
        return [-v for v in vals] if key == "perplexity" else vals

    keys = [("relevance", "relevance"), ("completeness", "completeness")]
    if "fluency" in signals:
        keys.append(("fluency (-perplexity)", "perplexity"))
    result: dict[str, dict[str, float]] = {}
    print(f"{len(pairs)} good pairs; ROC AUC of good vs each kind of bad (1.0 = perfect, 0.5 = chance)\n")
    print("| signal | shuffled | cut | word-shuffled | statements as instructions |")
    print("| --- | --- | --- | --- | --- |")
    for label, key in keys:
        row = {bad: auc(col("good", key), col(bad, key)) for bad in ("shuffled", "cut", "word-shuffled")}
        result[label] = row
        print(f"| {label} | " + " | ".join(f"{row[b]:.3f}" for b in ("shuffled", "cut", "word-shuffled")) + " | |")
    form_auc = auc(col("good", "form"), col("statements", "form"))
    result["form"] = {"statements": form_auc}
    print(f"| form | | | | {form_auc:.3f} |")

    thresholds = {"relevance": ("<", 0.9), "completeness": ("<", 0.6), "perplexity": (">", 200.0), "form": ("<", 1.0)}
    n_scored = {name: sum(1 for s in scores[name] if isinstance(s.get("perplexity"), (int, float))) for name in sets}
    if "fluency" in signals:
        print(f"\nfluency scores responses of 4+ words only: {n_scored['good']} good, {n_scored['cut']} cut, "
              f"{n_scored['word-shuffled']} word-shuffled")
    print("\nshare rejected at the default thresholds (good should be low, the matching bad high)\n")
    print("| score | " + " | ".join(sets) + " |")
    print("| --- |" + " --- |" * len(sets))
    rejected: dict[str, dict[str, float]] = {}
    for key, (op, t) in thresholds.items():
        if key == "perplexity" and "fluency" not in signals:
            continue
        row = {}
        for name in sets:
            vals = [s.get(key) for s in scores[name] if isinstance(s.get(key), (int, float))]
            if vals:
                row[name] = sum(1 for v in vals if (v > t if op == ">" else v < t)) / len(vals)
        rejected[key] = row
        print(f"| {key} {op} {t:g} | " + " | ".join(f"{row[n]:.0%}" if n in row else "" for n in sets) + " |")
    print("\nseconds to score each set: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    if args.json:
        args.json.write_text(json.dumps({"auc": result, "rejected": rejected, "timings_s": timings,
                                         "scores": scores, "sets": {k: v for k, v in sets.items() if k != "good"}},
                                        ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
