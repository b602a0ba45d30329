"""Issue 28: do the default acceptance checks give a classifier better data? A label set of a domain the
project never used (a public library's help desk, 20 intents, no examples), real-style test messages
written by hand apart from any prompt (benchmarks/data/library_test.jsonl, 20 per label).

Make the runs first (the bundled model; the same command with and without the checks):

    synthloom generate classification --labels benchmarks/data/library_labels.yaml -n 80 --verify flag \
        --checks none -o OUT/before --with-meta --rejected --concurrency 4
    synthloom generate classification ... (no --checks) -o OUT/after ...

then score them:

    python benchmarks/junk_bench.py OUT/before OUT/after [--checker 5] [--json OUT/result.json]

Per run: the funnel; a classifier trained on its accepted records only (MiniLM + logistic regression,
C by cross-validation as `synthloom train` does; and a plain scikit-learn LogisticRegression() on the same
embeddings) scored on the test messages. Baselines: the nearest label name in MiniLM space (zero-shot),
the nearest label name + description (the embedding checker itself), and with --checker N the bundled
model as label checker on N messages per label: with the names and descriptions only, and few-shot (one
accepted text per label of the last run shown as a worked example).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"


def scores(pred: list[str], gold: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(float(accuracy_score(gold, pred)), 4),
            "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4)}


def run_info(run_dir: Path) -> tuple[list, dict]:
    from synthloom import RunStore

    with RunStore(run_dir / "store.sqlite") as store:
        info = store.run_info(None)
        rid = info["run_id"]
        recs = store.accepted_records(rid)
        funnel = store.funnel(rid)
        rej = store.rejection_counts(rid)
        calls = sum(u.get("calls", 0) for u in store.usage(rid))
    return recs, {"accepted": len(recs), "rejections": {f"{s}:{r}": n for s, r, n in rej if s != "surplus"},
                  "candidates": len(recs) + sum(n for s, _r, n in rej if s != "surplus"), "calls": calls,
                  "wall_s": round(info.get("wall_s") or 0, 1), "funnel": funnel}


def classifiers(texts: list[str], labels: list[str], test: list[dict], emb) -> dict:
    from sklearn.linear_model import LogisticRegression

    from synthloom.train.classifier import ClassifierStudent

    gold = [r["text"] for r in test], [r["label"] for r in test]
    student = ClassifierStudent.fit(texts, labels)
    out = {"train_rows": len(texts), "labels_covered": len(set(labels)),
           "student_cv": {**scores(student.predict(gold[0]), gold[1]), "C": student.info["hyperparameters"]["C"]}}
    x, xt = emb.embed(texts), emb.embed(gold[0])
    for name, head in (("plain_softmax", LogisticRegression(max_iter=2000)),
                       ("old_default_C4_balanced", LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000))):
        out[name] = scores(list(head.fit(x, labels).predict(xt)), gold[1])
    return out


def nearest(texts: list[str], reps: list[str], names: list[str], emb) -> list[str]:
    import numpy as np

    sims = emb.embed(texts) @ emb.embed(reps).T
    return [names[i] for i in np.argmax(sims, axis=1)]


async def checker(test: list[dict], label_set, llm, shots: bool) -> list[str]:
    from synthloom.quality.base import GateContext
    from synthloom.quality.label import LabelGate
    from synthloom.records import Record

    gate = LabelGate(label_set, action="flag", shots=shots)
    gate.llm = llm
    out = []
    for r in test:
        rec = await gate.check(Record(data={"text": r["text"], "label": r["label"]}), GateContext(seed=0))
        out.append(getattr(rec, "meta", {}).get("scores", {}).get("label_predicted") or "?")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--checker", type=int, default=0, help="messages per label for the bundled-model checker rows")
    ap.add_argument("--checker-shots-from", type=Path, help="run whose accepted texts are the few-shot examples "
                    "(default: the last run)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--labels", default="library_labels.yaml", help="label set under benchmarks/data/")
    ap.add_argument("--test", default="library_test.jsonl", help="hand-written test messages under benchmarks/data/")
    args = ap.parse_args()

    from synthloom.quality.embeddings import make_embedder
    from synthloom.quality.label_fit import label_texts
    from synthloom.sources.labels import Label, LabelSet, load_label_set

    label_set = load_label_set(args.labels, DATA)
    names = label_set.names
    test = [json.loads(x) for x in (DATA / args.test).read_text().splitlines() if x.strip()]
    gold = [r["label"] for r in test]
    emb = make_embedder()
    texts = [r["text"] for r in test]
    result: dict = {"test_rows": len(test), "labels": len(names),
                    "zero_shot_label_names": scores(nearest(texts, [n.replace("_", " ") for n in names], names, emb), gold),
                    "zero_shot_names_and_descriptions": scores(
                        nearest(texts, [label_texts(lab)[0] for lab in label_set.labels], names, emb), gold)}
    last = None
    for run in args.runs:
        recs, info = run_info(run)
        rt, rl = [r.data["text"] for r in recs], [r.data["label"] for r in recs]
        info["per_label_accepted"] = dict(Counter(rl))
        info.update(classifiers(rt, rl, test, emb) if len(set(rl)) > 1 else {})
        sample = random.Random(0).sample(recs, min(20, len(recs)))
        info["read"] = [{"label": r.data["label"], "text": r.data["text"],
                         "margin": r.meta.get("scores", {}).get("label_margin"),
                         "checker": r.meta.get("scores", {}).get("label_predicted")} for r in sample]
        result[run.name] = info
        last = recs
    if args.json:  # written now and again after each slow step, so a timeout keeps what was measured
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if args.checker_shots_from:
        last = run_info(args.checker_shots_from)[0]
    if args.checker and last:
        from synthloom.config.models import LlamaCppModel
        from synthloom.llm.factory import build_llm

        sub = [r for lab in names for r in [t for t in test if t["label"] == lab][: args.checker]]
        sub_gold = [r["label"] for r in sub]
        llm = build_llm([LlamaCppModel()])
        first = {}
        for r in last:
            first.setdefault(r.data["label"], r.data["text"])
        with_shots = LabelSet(labels=[Label(name=lab.name, description=lab.description,
                                            examples=[first[lab.name]] if lab.name in first else [])
                                      for lab in label_set.labels], task=label_set.task)
        t0 = time.perf_counter()
        result["checker_rows"] = len(sub)
        result["checker_names_descriptions"] = scores(asyncio.run(checker(sub, label_set, llm, False)), sub_gold)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        result["checker_few_shot"] = scores(asyncio.run(checker(sub, with_shots, llm, True)), sub_gold)
        result["checker_wall_s"] = round(time.perf_counter() - t0, 1)
        result["zero_shot_label_names_same_rows"] = scores(
            nearest([r["text"] for r in sub], [n.replace("_", " ") for n in names], names, emb), sub_gold)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
