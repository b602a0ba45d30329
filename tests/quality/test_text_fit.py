"""pmi:off_label: a text its own label's description makes no more likely than the nearest other label's."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.quality.base import GateContext
from synthloom.quality.checks import applied_checks, default_checks
from synthloom.quality.text_fit import LabelPmiGate, pmi_many, task_context
from synthloom.records import Record, Rejection
from synthloom.sources.labels import load_label_set

LABELS = load_label_set({"task": "why a pet owner writes to a clinic", "labels": [
    {"name": "vaccine", "description": "booster shot due"},
    {"name": "bill", "description": "invoice payment"},
    {"name": "diet", "description": "food weight"}]})


class WordScorer:
    """A fake scorer for the gate's logic: a text token costs 1 when its word is in the context, else 3."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def conditional_nlls(self, pairs):
        self.calls.append(len(pairs))
        return [[1.0 if w in set(c.lower().split()) else 3.0 for w in t.lower().split()] for c, t in pairs]


class Near:
    """A fake embedder: the other label nearest every text is `bill` (unless it is the text's own)."""

    def embed(self, texts):
        return np.array([[1.0, 0.0, 0.0]] * len(texts)) if len(texts) > 1 else np.array([[0.0, 1.0, 0.0]])


def test_pmi_is_the_other_description_minus_the_own_per_token():
    scorer = WordScorer()
    (v,) = pmi_many(scorer, [("booster shot due now", "booster shot due\nText: ", "invoice payment\nText: ")])
    assert v == pytest.approx((12 - 6) / 4)
    assert scorer.calls == [2]
    assert task_context("a task.", "a label") == "Task: a task.\na label\nText: "


def _label_matrix_once(gate):
    gate._labels = np.eye(3)  # vaccine, bill, diet; Near puts every text nearest `bill`
    return gate


def test_a_text_nearer_another_description_is_rejected_naming_both_and_a_fitting_one_kept():
    gate = _label_matrix_once(LabelPmiGate(LABELS, scorer=WordScorer(), embedder=Near()))

    async def go():
        return await asyncio.gather(
            gate.check(Record(data={"text": "is the booster shot due", "label": "vaccine"}), GateContext()),
            gate.check(Record(data={"text": "can i pay the invoice", "label": "diet"}), GateContext()))

    kept, rejected = asyncio.run(go())
    assert isinstance(kept, Record) and kept.meta["scores"]["label_pmi"] == pytest.approx(1.2)
    assert isinstance(rejected, Rejection) and rejected.reason == "pmi:off_label"
    assert "'diet'" in rejected.detail and "'bill'" in rejected.detail and "-0.40" in rejected.detail  # 1 of 5 words
    # two texts x two contexts scored; the checks reach the scorer after a thread hop each (the nearest other
    # label), so they share a call when they arrive together (batching itself: tests/quality/test_batching.py)
    assert sum(gate._scorer.calls) == 4


def test_multi_label_or_empty_text_is_left_to_the_other_checks():
    gate = LabelPmiGate(LABELS, scorer=WordScorer(), embedder=Near())
    for data in ({"text": "  ", "label": "bill"}, {"text": "a b c", "label": ["bill", "diet"]}):
        rec = Record(data=data)
        assert asyncio.run(gate.check(rec, GateContext())) is rec


class _Gen:
    label_set = LABELS
    task = LABELS.task


def test_the_pmi_check_is_off_by_default_and_switched_on_by_name(monkeypatch):
    monkeypatch.setattr("synthloom.quality.checks._embeddings_installed", lambda: True)

    def recipe(checks=None):
        data = {"count": 2, "generate": {"technique": "classification", "labels": LABELS.model_dump()["labels"]}}
        if checks is not None:
            data["checks"] = checks
        return recipe_from_dict(data, "t")

    assert "LabelPmiGate" not in [type(g).__name__ for g in default_checks(recipe(), _Gen())]
    on = recipe(["readable", "relevant", "pmi"])
    assert [type(g).__name__ for g in default_checks(on, _Gen())][-1] == "LabelPmiGate"
    assert applied_checks(on) == ["readable", "relevant", "pmi"]
