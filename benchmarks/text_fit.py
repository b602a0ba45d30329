"""Judge-free signals of "does this text fit what it was written for", measured by ROC AUC on hand labels.

Inputs: labelled files (benchmarks/data/text_fit_*.jsonl: a generated text, the label it was written for, and
one reader's verdict: good / wrong_voice / other_domain / label_words / garbled / not_request) with their
label set, and real test messages (their true label; every one counts as good) to measure false rejections.

Each text is scored by the bundled model after several contexts (FluencyScorer.conditional_nlls: only the
text's tokens are scored), all built from what the user wrote (the label set's `task` line, the label
descriptions); no domain word:

    neutral   after "Task: a text.\nText: "
    task      after "Task: <task>.\nText: "
    reply     after "Task: <task>.\nReply: "
    own       after "Task: <task>.\n<own label's description>\nText: "
    other0    the same with the description of the label nearest the text in MiniLM space, other than its own

Signals (higher = fits better): pmi_task = neutral - task, pmi_label = other0 - own (the `pmi` check,
quality/text_fit.py), pmi_desc = neutral - own, voice = reply - task, and MiniLM's label margin.

    python benchmarks/text_fit.py score --limit 5 --out /tmp/tf.json   # the model (under the model lock); 5 real
                                                                      # messages per label
    python benchmarks/text_fit.py report /tmp/tf.json                  # AUCs and false rejections
    python benchmarks/text_fit.py retrain /tmp/tf.json --signal pmi_label --threshold 0   # the classifier without
                                                                      # the accepted records under the threshold
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
SETS = {  # labelled file -> label set; real test files -> label set
    "text_fit_library.jsonl": "library_labels.yaml",
    "text_fit_vet.jsonl": "vet_labels.yaml",
}
REAL = {"library_test.jsonl": "library_labels.yaml", "vet_test.jsonl": "vet_labels.yaml"}
NEUTRAL = "Task: a text.\nText: "


def contexts(task: str, own: str, others: list[str]) -> dict[str, str]:
    head = f"Task: {task}.\n"
    out = {"neutral": NEUTRAL, "task": head + "Text: ", "reply": head + "Reply: ", "own": f"{head}{own}\nText: "}
    for i, d in enumerate(others):
        out[f"other{i}"] = f"{head}{d}\nText: "
    return out


def load_items() -> list[dict]:
    from synthloom.sources.labels import load_label_set

    items = []
    for name, labels in {**SETS, **REAL}.items():
        path = DATA / name
        if not path.exists():
            continue
        ls = load_label_set(labels, DATA)
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else None
            if not row or "_note" in row:
                continue
            items.append({"file": name, "labels": labels, "task": ls.task, "text": row["text"], "label": row["label"],
                          "verdict": row.get("verdict", "real" if name in REAL else None),
                          "source": row.get("source", "real" if name in REAL else "")})
    return items


def score(out: Path, limit: int | None) -> None:
    import numpy as np

    from synthloom.quality.embeddings import make_embedder
    from synthloom.quality.fluency import fluency_scorer
    from synthloom.quality.label_fit import label_matrix
    from synthloom.sources.labels import load_label_set

    items = load_items()
    if limit:  # the first `limit` real messages of each label
        seen: dict = {}
        items = [it for it in items if it["verdict"] != "real"
                 or seen.setdefault((it["file"], it["label"]), []).append(1) or len(seen[(it["file"], it["label"])]) <= limit]
    emb = make_embedder()
    mats = {}
    for it in items:
        ls = load_label_set(it["labels"], DATA)
        if it["labels"] not in mats:
            mats[it["labels"]] = label_matrix(ls, emb)
        sims = mats[it["labels"]] @ emb.embed([it["text"]])[0]
        i = ls.names.index(it["label"])
        order = [j for j in np.argsort(-sims) if j != i][:2]
        it["margin"] = float(sims[i] - sims[order[0]])
        it["ctx"] = contexts(it["task"], ls.labels[i].description, [ls.labels[j].description for j in order[:1]])
    scorer = fluency_scorer()
    done = json.loads(out.read_text())["items"] if out.exists() else []  # a checkpoint of an earlier, cut run
    keyed = {(d["file"], d["text"], d["label"]): d for d in done}
    t0 = time.perf_counter()
    todo = [it for it in items if (it["file"], it["text"], it["label"]) not in keyed]
    for s in range(0, len(todo), 64):  # written after each chunk, so a timeout keeps what was scored
        chunk = todo[s : s + 64]
        nll = scorer.conditional_nlls([(c, it["text"]) for it in chunk for c in it["ctx"].values()])
        k = 0
        for it in chunk:
            it["nll"] = {}
            for name in it.pop("ctx"):
                v = nll[k]
                k += 1
                it["nll"][name] = sum(v) / len(v) if v else float("nan")
                it.setdefault("tokens", len(v))
            keyed[(it["file"], it["text"], it["label"])] = it
        wall = time.perf_counter() - t0
        rows = [keyed[(it["file"], it["text"], it["label"])] for it in items if (it["file"], it["text"], it["label"]) in keyed]
        out.write_text(json.dumps({"wall_s": round(wall, 1), "pairs": sum(len(r["nll"]) for r in rows), "items": rows},
                                  indent=1, ensure_ascii=False))
        print(f"{len(rows)}/{len(items)} texts, {wall:.0f} s", flush=True)


def signals(it: dict) -> dict[str, float]:
    n = it["nll"]
    other = min(v for k, v in n.items() if k.startswith("other"))
    return {"pmi_task": n["neutral"] - n["task"], "pmi_label": other - n["own"], "pmi_desc": n["neutral"] - n["own"],
            "voice": n["reply"] - n["task"], "margin": it["margin"]}


def auc(pos: list[float], neg: list[float]) -> float:
    if not pos or not neg:
        return float("nan")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def report(path: Path) -> None:
    import numpy as np

    data = json.loads(Path(path).read_text())
    items = data["items"]
    for it in items:
        it["sig"] = signals(it)
    names = list(items[0]["sig"])
    groups = sorted({it["file"] for it in items if it["verdict"] != "real"})
    print(f"{data['pairs']} pairs scored in {data['wall_s']} s")
    for g in [*groups, "all"]:
        rows = [it for it in items if it["verdict"] not in (None, "real") and (g == "all" or it["file"] == g)]
        good = [it for it in rows if it["verdict"] == "good"]
        kinds = sorted({it["verdict"] for it in rows} - {"good"})
        print(f"\n{g}: {len(good)} good, " + ", ".join(f"{k} {sum(it['verdict'] == k for it in rows)}" for k in kinds))
        print(f"{'signal':16s} {'all bad':>8s} " + " ".join(f"{k[:12]:>12s}" for k in kinds))
        for s in names:
            pos = [it["sig"][s] for it in good]
            line = f"{s:16s} {auc(pos, [it['sig'][s] for it in rows if it['verdict'] != 'good']):8.3f} "
            line += " ".join(f"{auc(pos, [it['sig'][s] for it in rows if it['verdict'] == k]):12.3f}" for k in kinds)
            print(line)
    real = [it for it in items if it["verdict"] == "real"]
    if real:
        print("\nthresholds at the real messages' 2nd / 5th percentile: real rejected, synthetic good / bad rejected")
        synth = [it for it in items if it["verdict"] not in (None, "real")]
        for s in names:
            r = np.array([it["sig"][s] for it in real])
            for q in (2, 5):
                t = float(np.percentile(r, q))
                gl = [it for it in synth if it["verdict"] == "good"]
                bd = [it for it in synth if it["verdict"] != "good"]
                print(f"{s:16s} p{q} {t:+.3f}: real {np.mean(r < t):.1%}  good {np.mean([x['sig'][s] < t for x in gl]):.1%}"
                      f"  bad {np.mean([x['sig'][s] < t for x in bd]):.1%}")


def retrain(path: Path, signal: str, threshold: float) -> None:
    """The library run's accepted records with and without those under `threshold` on `signal`: a classifier
    trained on each (as junk_bench.py does) scored on the 400 real test messages. No record is written again
    in place of a dropped one, so the filtered set is smaller than a re-run's would be."""
    from junk_bench import classifiers

    from synthloom.quality.embeddings import make_embedder

    items = json.loads(Path(path).read_text())["items"]
    acc = [it for it in items if it["file"] == "text_fit_library.jsonl" and it["source"] == "accepted"]
    kept = [it for it in acc if signals(it)[signal] >= threshold]
    test = [json.loads(x) for x in (DATA / "library_test.jsonl").read_text().splitlines() if x.strip()]
    emb = make_embedder()
    for name, rows in (("all accepted", acc), (f"{signal} >= {threshold:+.2f}", kept)):
        r = classifiers([it["text"] for it in rows], [it["label"] for it in rows], test, emb)
        good = sum(it["verdict"] == "good" for it in rows)
        print(f"{name}: {len(rows)} rows ({good} good by reading, {len(set(it['label'] for it in rows))} labels): "
              f"student {r['student_cv']}, plain softmax {r['plain_softmax']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("score")
    a.add_argument("--out", type=Path, required=True)
    a.add_argument("--limit", type=int)
    b = sub.add_parser("report")
    b.add_argument("path", type=Path)
    c = sub.add_parser("retrain")
    c.add_argument("path", type=Path)
    c.add_argument("--signal", default="pmi_task")
    c.add_argument("--threshold", type=float, default=0.0)
    args = ap.parse_args()
    if args.cmd == "retrain":
        retrain(args.path, args.signal, args.threshold)
    elif args.cmd == "score":
        score(args.out, args.limit)
    else:
        report(args.path)


if __name__ == "__main__":
    main()
