"""Classification data quality on the intent set in examples/: synthetic-only classifier vs zero-shot.

    python benchmarks/classify_quality.py --count 36 --out bench-out/classify [--augment 24]

1. Runs examples/intents.yaml (technique: classification, bundled model, verify: flag) for --count
   records; with --augment N also examples/intents-augment.yaml for N records.
2. Trains a classifier (MiniLM sentence embeddings + logistic regression) on the synthetic rows only,
   on all of them and on the verified ones only, and evaluates it on the real file
   (examples/intents.real.jsonl, 60 hand-written messages, 10 per label).
3. Baselines that only know the label names: nearest label name in MiniLM space, and the bundled model
   asked for a label with the names alone (no descriptions, no examples).
4. The label checker itself (names + descriptions, as in verification) on the real
   file: how far its agreement numbers can be trusted.
5. Synthetic vs real: two-sample AUC, k-NN precision/recall, KS on lengths (export/compare.py).

Prints a JSON summary; the numbers go to docs/benchmarks_classify.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def load_real() -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / "intents.real.jsonl").read_text().splitlines()]


def run_recipe(name: str, count: int, out: Path) -> tuple[list, dict]:
    from synthloom import RunStore, load_recipe
    from synthloom.engine import arun_recipe

    recipe = load_recipe(EXAMPLES / name, {"count": count})
    t0 = time.perf_counter()
    summary = asyncio.run(arun_recipe(recipe, base_dir=EXAMPLES, output=out))
    with RunStore(out / "store.sqlite") as store:
        rid = store.run_info(None)["run_id"]
        recs = store.accepted_records(rid)
    return recs, {"accepted": summary.accepted, "funnel": summary.funnel, "rejections": summary.rejections,
                  "wall_s": round(time.perf_counter() - t0, 1), "calls": summary.calls}


def accuracy(pred: list[str], gold: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(float(accuracy_score(gold, pred)), 4),
            "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4)}


def train_eval(texts: list[str], labels: list[str], real: list[dict], emb) -> dict | None:
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:
        return None
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(emb.embed(texts), labels)
    pred = clf.predict(emb.embed([r["text"] for r in real]))
    return {"train_rows": len(texts), **accuracy(list(pred), [r["label"] for r in real])}


def label_name_baseline(real: list[dict], names: list[str], emb) -> dict:
    import numpy as np

    lv = emb.embed([n.replace("_", " ") for n in names])
    sims = emb.embed([r["text"] for r in real]) @ lv.T
    return accuracy([names[i] for i in np.argmax(sims, axis=1)], [r["label"] for r in real])


async def llm_labels(real: list[dict], label_set, llm) -> list[str]:
    from synthloom.quality.base import GateContext
    from synthloom.quality.label import LabelGate
    from synthloom.records import Record

    gate = LabelGate(label_set, action="flag")
    gate.llm = llm
    out = []
    for r in real:
        rec = await gate.check(Record(data={"text": r["text"], "label": r["label"]}), GateContext(seed=0))
        out.append(getattr(rec, "meta", {}).get("scores", {}).get("label_predicted") or "?")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=36)
    ap.add_argument("--augment", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "classify")
    args = ap.parse_args()

    from synthloom.export.compare import compare_to_reference
    from synthloom.llm.factory import build_llm
    from synthloom.config.models import LlamaCppModel
    from synthloom.quality.embeddings import make_embedder
    from synthloom.sources.labels import Label, LabelSet, load_label_set

    real = load_real()
    label_set = load_label_set("labels/intents.yaml", EXAMPLES)
    emb = make_embedder()
    result: dict = {"real_rows": len(real), "labels": label_set.names}

    recs, info = run_recipe("intents.yaml", args.count, args.out / "classification")
    result["classification_run"] = info
    texts, labels = [r.data["text"] for r in recs], [r.data["label"] for r in recs]
    agreed = [(t, lab) for r, t, lab in zip(recs, texts, labels) if r.meta.get("scores", {}).get("label_agrees")]
    result["verification_agreement"] = round(len(agreed) / len(recs), 4) if recs else None
    result["synthetic_all"] = train_eval(texts, labels, real, emb)
    result["synthetic_verified_only"] = train_eval([t for t, _ in agreed], [lab for _, lab in agreed], real, emb)
    result["label_name_embedding_baseline"] = label_name_baseline(real, label_set.names, emb)
    cmp = compare_to_reference(list(zip(texts, labels)), [(r["text"], r["label"]) for r in real], embedder=emb)
    result["synthetic_vs_real"] = {"two_sample_auc": cmp["embedding"]["two_sample_auc"],
                                   "knn_precision": cmp["embedding"]["knn_precision"],
                                   "knn_recall": cmp["embedding"]["knn_recall"],
                                   "ks_length": cmp["length_words"]["ks_statistic"],
                                   "mean_words": [cmp["length_words"]["synthetic"]["mean"], cmp["length_words"]["real"]["mean"]],
                                   "nearest_real_cosine_max": cmp["nearest_real"]["cosine"]["max"],
                                   "nearest_real_ngram_overlap_max": cmp["nearest_real"]["ngram_overlap"]["max"]}

    llm = build_llm([LlamaCppModel()])
    names_only = LabelSet(labels=[Label(name=n, description=n.replace("_", " ")) for n in label_set.names],
                          task=label_set.task)
    gold = [r["label"] for r in real]
    t0 = time.perf_counter()
    result["llm_zero_shot_names_only"] = accuracy(asyncio.run(llm_labels(real, names_only, llm)), gold)
    result["label_checker_on_real"] = accuracy(asyncio.run(llm_labels(real, label_set, llm)), gold)
    result["llm_eval_wall_s"] = round(time.perf_counter() - t0, 1)

    if args.augment:
        arecs, ainfo = run_recipe("intents-augment.yaml", args.augment, args.out / "augment")
        result["augment_run"] = ainfo
        result["augment_agreement"] = round(sum(1 for r in arecs if r.meta.get("scores", {}).get("label_agrees"))
                                            / len(arecs), 4) if arecs else None
        acmp = compare_to_reference([(r.data["text"], r.data["label"]) for r in arecs],
                                    [(r["text"], r["label"]) for r in real], embedder=emb)
        result["augment_vs_real"] = {"two_sample_auc": acmp["embedding"]["two_sample_auc"],
                                     "nearest_real_ngram_overlap_max": acmp["nearest_real"]["ngram_overlap"]["max"],
                                     "nearest_real_cosine_max": acmp["nearest_real"]["cosine"]["max"]}
    print(json.dumps(result, indent=2))
    (args.out / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
