"""The PMI check's logic (quality/pair_fit.py) on a fake scorer; the bundled model's figures are in
test_pair_fit_model.py and docs/benchmarks_junk.md."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.generators.qa import build as build_qa
from synthloom.quality.base import GateContext
from synthloom.quality.checks import checked_gates
from synthloom.quality.pair_fit import PairFitGate, answer_pmi, other_instructions, output_pmi, question_pmi, task_context
from synthloom.records import Record, Rejection

KB = Path(__file__).resolve().parents[2] / "examples" / "docs" / "kb"


class OverlapScorer:
    """A token of the text costs 1 nat when its word is in the context, 3 when not (a stand-in for a model
    that finds a text likelier after a context that mentions its words)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def conditional_nlls(self, pairs):
        self.calls.append(len(pairs))
        out = []
        for context, text in pairs:
            seen = set(re.findall(r"\w+", context.lower()))
            out.append([1.0 if w in seen else 3.0 for w in re.findall(r"\w+", text.lower())])
        return out


def qa_rec(question, answer, kind="factual"):
    return Record(data={"question": question, "answer": answer, "evidence": [answer], "kind": kind}, meta={})


def check(gate, rec):
    return asyncio.run(gate.check(rec, GateContext()))


def test_question_pmi_is_higher_for_the_question_its_answer_calls_for():
    s = OverlapScorer()
    fit, off = question_pmi(s, ["When does the pool open on Sundays?", "Where are towels sold?"],
                            ["The pool opens at nine on Sundays."] * 2)
    assert fit > 0.5 and off == pytest.approx(0.0)
    assert s.calls == [4]  # both pairs, with and without the answer, in one scoring call


def test_gate_rejects_a_question_its_answer_does_not_call_for_and_names_the_signal():
    gate = PairFitGate(min_pmi=0.1, scorer=OverlapScorer())
    kept = check(gate, qa_rec("When does the pool open on Sundays?", "The pool opens at nine on Sundays."))
    assert isinstance(kept, Record) and kept.meta["scores"]["question_pmi"] > 0.1
    off = check(gate, qa_rec("Where are towels sold?", "The pool opens at nine on Sundays."))
    assert isinstance(off, Rejection) and off.reason == "relevant:answer_unlikely"
    assert "PMI 0.00" in off.detail and off.meta["scores"]["question_pmi"] == 0.0


def test_unanswerable_pairs_are_not_scored():
    s = OverlapScorer()
    gate = PairFitGate(min_pmi=0.1, scorer=s)
    rec = qa_rec("Is there a sauna?", "The knowledge base does not contain this information.", kind="unanswerable")
    assert check(gate, rec) is rec and s.calls == []


def test_concurrent_checks_share_one_scoring_call():
    s = OverlapScorer()
    gate = PairFitGate(min_pmi=0.1, scorer=s)

    async def many():
        recs = [qa_rec(f"When does pool {i} open?", f"Pool {i} opens at nine.") for i in range(5)]
        return await asyncio.gather(*(gate.check(r, GateContext()) for r in recs))

    out = asyncio.run(many())
    assert all(isinstance(r, Record) for r in out) and s.calls == [10]


def test_the_check_follows_the_relevant_switch():
    """On by default in qa, listed after the embedding checks; `checks: [readable, complete]` turns it off."""
    def gates(checks):
        data = {"count": 1, "generate": {"technique": "qa", "docs": str(KB)}}
        if checks is not None:
            data["checks"] = checks
        recipe = recipe_from_dict(data, "t")
        return [type(g).__name__ for g in checked_gates(recipe, build_qa(recipe.generate, KB))]

    on = gates(None)
    assert on[-1] == "PairFitGate" and on.index("QuestionGate") < on.index("PairFitGate")
    assert "PairFitGate" not in gates(["readable", "complete"]) and gates([]) == []


def test_measured_signals_that_were_not_shipped_still_compute():
    """answer_pmi and output_pmi are the benchmark's candidates (benchmarks/pair_fit.py)."""
    s = OverlapScorer()
    fit, off = answer_pmi(s, ["When does the pool open on Sundays?"] * 2,
                          ["The pool opens at nine on Sundays.", "Towels are sold at reception."])
    assert fit > 0.5 and off == pytest.approx(0.0)
    pool = ["Translate the sentence into French.", "Summarise the review in one line.", "List three colours.",
            "Name the capital of the country."]
    fit, off = output_pmi(s, ["Sort the numbers from smallest to largest."] * 2, ["7 3 9", "7 3 9"],
                          ["3 7 9, sorted from smallest to largest", "Bonjour tout le monde"], pool)
    assert fit > off
    assert "Input: 7 3 9\n" in task_context("Sort.", "7 3 9") and "Input" not in task_context("List three colours.")


def test_other_instructions_are_the_same_on_every_call_and_never_the_task_itself():
    pool = [f"Task number {i}." for i in range(10)]
    a = other_instructions("Task number 4.", pool)
    assert a == other_instructions("Task number 4.", pool) and len(a) == 3 == len(set(a))
    assert "Task number 4." not in a
    assert other_instructions("x y z", pool[:2]) == pool[:2]
