"""Which judge-free signals tell a good qa pair / Self-Instruct task from a bad one? ROC AUC on labelled records.

The labelled sets are records of the bundled model's own runs (accepted and rejected), each read and
labelled good or bad by one reader (benchmarks/data/pair_fit_qa.jsonl, pair_fit_self_instruct.jsonl; the
header line of each file says how). Every likelihood signal comes from the bundled model through
`synthloom.quality.fluency.FluencyScorer.conditional_nlls` (evaluation, no decoding): the mean negative
log-likelihood per token of a text after a context. A PMI signal is the mean NLL of a text after a neutral
or wrong context minus after its own: how much its own context makes it likelier.

qa candidates (higher = better):
  question_pmi        what the shipped check computes (quality/pair_fit.py): the question on its own vs after
                      its answer (does the answer call for this question?)
  answer_pmi          the answer after a question of no content vs after its own question
  answer_pmi_examples the answer after the technique's few-shot example questions (another domain) vs its own
  answer_pmi_other    the answer after other questions of the same knowledge base (up to 3) vs its own
  answer_pmi_passage  the answer after the passage and its question vs after the passage and one other question
  question_nll        minus the question's own mean NLL (its fluency)
  question_pmi_passage  the question after nothing vs after its passage
  question_pmi_evidence  the question after nothing vs after its evidence sentence(s)
  question_form       1 when the question ends with '?' and is one sentence
  cosine_margin       the `relevant:answer_off_question` check's margin (MiniLM), for reference

self_instruct candidates:
  output_pmi          the output after other tasks' instructions (the seeds')
                      with the same input vs after its own instruction
  output_pmi_neutral  the output after an instruction of no content vs after its own
  input_pmi           the input after other instructions vs after its own (records with an input)
  input_checks        1 when the input passes `readable` and `complete` (0 for an empty input: not checked)
  output_nll, input_nll  minus the mean NLL of the text on its own

    PYTHONPATH=src python benchmarks/pair_fit.py [--only qa|self_instruct] [--json out.json]

Prints per signal the AUC on every labelled record and on the accepted ones only, and for the shipped
signals the share of good and bad records their threshold rejects.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from synthloom.quality import pair_fit  # noqa: E402
from synthloom.quality.acceptance import cut_problem, readable_problem  # noqa: E402
from synthloom.quality.answer_fit import sentences  # noqa: E402

DATA = ROOT / "data"


def auc(good: list[float], bad: list[float]) -> float:
    """P(score of a good item > score of a bad one), ties half (Mann-Whitney U / (n*m)); NaN scores left out."""
    g = np.asarray([x for x in good if x == x], float)
    b = np.asarray([x for x in bad if x == x], float)
    if len(g) == 0 or len(b) == 0:
        return float("nan")
    return float(((g[:, None] > b[None, :]).sum() + 0.5 * (g[:, None] == b[None, :]).sum()) / (len(g) * len(b)))


def load(name: str) -> list[dict]:
    rows = []
    for line in (DATA / name).read_text().splitlines():
        row = json.loads(line)
        if "label" in row:  # the first line is the file's header
            rows.append(row)
    return rows


def mean_pmi(scorer, texts: list[str], own: list[str], others: list[list[str]]) -> list[float]:
    """Mean over each text's `others` contexts of mean NLL(text | other) - mean NLL(text | own)."""
    pairs, index = [], []
    for i, (t, o, alts) in enumerate(zip(texts, own, others)):
        pairs.append((o, t))
        index.append((i, "own"))
        for a in alts:
            pairs.append((a, t))
            index.append((i, "alt"))
    nlls = scorer.conditional_nlls(pairs)
    own_v: dict[int, float] = {}
    alt_v: dict[int, list[float]] = {}
    for (i, kind), nll in zip(index, nlls):
        m = float(np.mean(nll)) if nll else float("nan")
        (own_v.__setitem__(i, m) if kind == "own" else alt_v.setdefault(i, []).append(m))
    return [float(np.mean(alt_v[i])) - own_v[i] if i in alt_v else float("nan") for i in range(len(texts))]


def own_nll(scorer, texts: list[str], lead: str) -> list[float]:
    return [-float(np.mean(n)) if n else float("nan") for n in scorer.conditional_nlls([(lead, " " + t) for t in texts])]


def qa_signals(scorer, rows: list[dict], rng: random.Random) -> dict[str, list[float]]:
    qs = [r["question"] for r in rows]
    ans = [" " + r["answer"] for r in rows]
    passages = [(r.get("contexts") or [""])[0] for r in rows]
    others = []
    for i, r in enumerate(rows):
        same = [rows[j]["question"] for j in range(len(rows)) if j != i and passages[j] == passages[i]
                and rows[j]["question"] != r["question"]]
        pool = same or [rows[j]["question"] for j in range(len(rows)) if rows[j]["question"] != r["question"]]
        others.append(rng.sample(pool, min(3, len(pool))))
    out: dict[str, list[float]] = {}
    out["question_pmi"] = pair_fit.question_pmi(scorer, qs, [r["answer"] for r in rows])
    out["answer_pmi"] = pair_fit.answer_pmi(scorer, qs, [r["answer"] for r in rows])
    from synthloom.quality.support import load_qa_examples

    ex = [e["output"]["question"] for k in ("factual", "multi_hop") for e in load_qa_examples().get(k, [])]
    out["answer_pmi_examples"] = mean_pmi(scorer, ans, [pair_fit.qa_context(q) for q in qs],
                                          [[pair_fit.qa_context(e) for e in ex] for _ in qs])
    out["answer_pmi_other"] = mean_pmi(scorer, ans, [pair_fit.qa_context(q) for q in qs],
                                       [[pair_fit.qa_context(o) for o in alt] for alt in others])
    out["answer_pmi_passage"] = mean_pmi(scorer, ans, [p + "\n\n" + pair_fit.qa_context(q) for p, q in zip(passages, qs)],
                                         [[p + "\n\n" + pair_fit.qa_context(o) for o in alt[:1]]
                                          for p, alt in zip(passages, others)])
    out["question_nll"] = own_nll(scorer, qs, "Question:")
    out["question_pmi_passage"] = mean_pmi(scorer, [" " + q for q in qs], ["{}\n\nQuestion:".format(p) for p in passages],
                                           [["Question:"] for _ in qs])
    out["question_pmi_evidence"] = mean_pmi(scorer, [" " + q for q in qs],
                                            ["{}\nQuestion:".format(" ".join(r.get("evidence") or [r["answer"]])) for r in rows],
                                            [["Question:"] for _ in qs])
    out["question_form"] = [float(q.rstrip().endswith("?") and len([s for s in sentences(q + " x x")]) <= 1)
                            for q in qs]
    out["cosine_margin"] = [((r.get("scores") or {}).get("answer_fit", float("nan"))
                             - (r.get("scores") or {}).get("answer_fit_other", float("nan"))) for r in rows]
    return out


def si_signals(scorer, rows: list[dict], rng: random.Random, seeds: list[str]) -> dict[str, list[float]]:
    ins = [r["instruction"] for r in rows]
    inp = [r.get("input") or "" for r in rows]
    outs = [r["output"] for r in rows]
    out: dict[str, list[float]] = {}
    out["output_pmi"] = pair_fit.output_pmi(scorer, ins, inp, outs, seeds)
    out["output_pmi_neutral"] = mean_pmi(scorer, [" " + o for o in outs],
                                         [pair_fit.task_context(i, x) for i, x in zip(ins, inp)],
                                         [[pair_fit.task_context(pair_fit.NEUTRAL_INSTRUCTION, x)] for x in inp])
    with_input = [i for i, x in enumerate(inp) if x.strip()]
    pmi = mean_pmi(scorer, [" " + inp[i] for i in with_input], [f"Instruction: {ins[i]}\nInput:" for i in with_input],
                   [[f"Instruction: {s}\nInput:" for s in rng.sample(seeds, 3)] for _ in with_input])
    out["input_pmi"] = [float("nan")] * len(rows)
    for i, v in zip(with_input, pmi):
        out["input_pmi"][i] = v
    out["input_checks"] = [float(not x.strip() or (readable_problem(x) is None and cut_problem(x) is None)) for x in inp]
    out["output_nll"] = own_nll(scorer, outs, "Output:")
    nll_in = own_nll(scorer, [inp[i] for i in with_input], "Input:")
    out["input_nll"] = [float("nan")] * len(rows)
    for i, v in zip(with_input, nll_in):
        out["input_nll"][i] = v
    return out


def report(name: str, rows: list[dict], signals: dict[str, list[float]], shipped: dict[str, float]) -> dict:
    good = [i for i, r in enumerate(rows) if r["label"] == "good"]
    bad = [i for i, r in enumerate(rows) if r["label"] == "bad"]
    acc = [i for i, r in enumerate(rows) if r["status"] == "accepted"]
    print(f"\n### {name}: {len(rows)} labelled ({len(good)} good, {len(bad)} bad); "
          f"{len(acc)} accepted ({sum(rows[i]['label'] == 'good' for i in acc)} good)\n")
    print("| signal | AUC all | AUC accepted | threshold | good rejected | bad rejected | "
          "threshold rejecting <= 10% of good: bad rejected |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    res = {}
    for sig, vals in signals.items():
        a_all = auc([vals[i] for i in good], [vals[i] for i in bad])
        a_acc = auc([vals[i] for i in good if i in acc], [vals[i] for i in bad if i in acc])
        line = f"| {sig} | {a_all:.2f} | {a_acc:.2f} |"
        if sig in shipped:
            t = shipped[sig]
            gr = sum(vals[i] < t for i in good)
            br = sum(vals[i] < t for i in bad)
            line += f" {t:g} | {gr}/{len(good)} | {br}/{len(bad)} |"
        else:
            line += " | | |"
        gv = sorted(vals[i] for i in good if vals[i] == vals[i])
        if gv:
            t10 = gv[int(0.1 * len(gv))]  # rejects (strictly below) at most 10% of the good ones
            line += f" {t10:.3f}: {sum(vals[i] < t10 for i in bad)}/{len(bad)} |"
        print(line)
        res[sig] = {"auc_all": a_all, "auc_accepted": a_acc}
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["qa", "self_instruct"])
    ap.add_argument("--json")
    ap.add_argument("--dump", help="write each row's signals to this JSONL (for reading the misses)")
    args = ap.parse_args()
    from synthloom.quality.fluency import fluency_scorer
    from synthloom.generators.instruct_seeds import load_seed_tasks

    scorer = fluency_scorer()
    rng = random.Random(0)
    results, dump = {}, []
    if args.only in (None, "qa"):
        rows = load("pair_fit_qa.jsonl")
        t = time.perf_counter()
        sig = qa_signals(scorer, rows, rng)
        print(f"qa signals: {time.perf_counter() - t:.1f} s for {len(rows)} rows")
        results["qa"] = report("qa", rows, sig, {"question_pmi": pair_fit.MIN_QUESTION_PMI})
        dump += [{"file": "qa", "id": r["id"], "label": r["label"], **{k: v[i] for k, v in sig.items()}}
                 for i, r in enumerate(rows)]
    if args.only in (None, "self_instruct"):
        rows = load("pair_fit_self_instruct.jsonl")
        seeds = [s.instruction for s in load_seed_tasks(ROOT.parent / "examples" / "seeds.jsonl")]
        t = time.perf_counter()
        sig = si_signals(scorer, rows, rng, seeds)
        print(f"self_instruct signals: {time.perf_counter() - t:.1f} s for {len(rows)} rows")
        results["self_instruct"] = report("self_instruct", rows, sig, {})
        dump += [{"file": "self_instruct", "id": r["id"], "label": r["label"], **{k: v[i] for k, v in sig.items()}}
                 for i, r in enumerate(rows)]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.dump:
        Path(args.dump).write_text("".join(json.dumps(d) + "\n" for d in dump))


if __name__ == "__main__":
    main()
