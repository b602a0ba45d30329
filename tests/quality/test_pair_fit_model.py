"""The question-answer PMI check on the bundled model, on the hand-labelled pairs its threshold was set on
(benchmarks/data/pair_fit_qa.jsonl; figures in docs/benchmarks_junk.md)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from synthloom.quality.base import GateContext
from synthloom.quality.pair_fit import PairFitGate
from synthloom.records import Record, Rejection

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "pair_fit_qa.jsonl"
# on the 33 accepted pairs of the labelled set (7 good, 26 bad), at the shipped threshold 0.45
GOOD_REJECTED = 0  # of 7 good (the lowest good scores 0.72; threshold 0.45)
BAD_REJECTED = 3  # of 26 bad (5 measured; two of them, 0.38 and 0.42, sit near the threshold)


def labelled_accepted() -> list[dict]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    return [r for r in rows if r.get("status") == "accepted"]


@pytest.mark.model
@pytest.mark.timeout(300)
def test_on_pairs_the_other_checks_accepted_it_rejects_bad_ones_and_keeps_the_good():
    rows = labelled_accepted()
    gate = PairFitGate()

    async def run():
        recs = [Record(data={k: r[k] for k in ("question", "answer", "evidence", "kind")}, meta={}) for r in rows]
        return await asyncio.gather(*(gate.check(rec, GateContext()) for rec in recs))

    out = asyncio.run(run())
    rejected = [isinstance(o, Rejection) for o in out]
    assert all(o.reason == "relevant:answer_unlikely" for o in out if isinstance(o, Rejection))
    assert all(isinstance(o.meta["scores"]["question_pmi"], float) for o in out)
    good = [rej for rej, r in zip(rejected, rows) if r["label"] == "good"]
    bad = [rej for rej, r in zip(rejected, rows) if r["label"] == "bad"]
    assert sum(good) <= GOOD_REJECTED, [r["question"] for rej, r in zip(rejected, rows) if rej and r["label"] == "good"]
    assert sum(bad) >= BAD_REJECTED


@pytest.mark.model
def test_a_question_its_answer_does_not_answer_is_rejected_and_the_same_answer_to_its_question_kept():
    gate = PairFitGate()
    answer = "Loomcloud accepts Visa, Mastercard and American Express cards."
    kept = asyncio.run(gate.check(Record(data={"question": "Which cards does Loomcloud accept?", "answer": answer,
                                               "kind": "factual"}, meta={}), GateContext()))
    off = asyncio.run(gate.check(Record(data={"question": "Was my bill automatically paid?", "answer": answer,
                                              "kind": "factual"}, meta={}), GateContext()))
    assert isinstance(kept, Record) and isinstance(off, Rejection), (kept.meta, off.meta)

