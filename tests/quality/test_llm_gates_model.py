"""Judge and label gates on the bundled model (small: two records each, short outputs)."""
from __future__ import annotations

import asyncio

import pytest

from synthloom.config.models import LlamaCppModel
from synthloom.config.quality import JudgeGateConfig, LabelGateConfig
from synthloom.quality import build_gate
from synthloom.quality.base import GateContext
from synthloom.records import Record, Rejection

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def llm():
    from synthloom.llm.llamacpp import LlamaCppLLM

    backend = LlamaCppLLM(LlamaCppModel())
    yield backend
    asyncio.run(backend.aclose())


def test_judge_on_the_bundled_model_scores_with_a_rationale(llm):
    gate = build_gate(JudgeGateConfig(threshold=1, max_tokens=96), ".")
    recs = [Record({"subject": "Double charge in May", "body": "My card was charged $30 twice on May 2. Please refund one."}),
            Record({"subject": "asdf", "body": "qwerty qwerty"})]
    outs = [asyncio.run(gate.check(r, GateContext(llm=llm, seed=1))) for r in recs]
    for out in outs:
        assert isinstance(out, Record), getattr(out, "detail", "")
        assert out.meta["scores"]["judge"] in (1, 2, 3, 4, 5)
        assert isinstance(out.meta["judge"]["rationale"], str) and out.meta["judge"]["rationale"]
        assert out.meta["judge"]["model"].startswith("llamacpp:") or out.meta["judge"]["model"]


def test_label_check_on_the_bundled_model_predicts_an_allowed_label(llm):
    labels = ["billing", "technical"]
    gate = build_gate(LabelGateConfig(labels=labels, action="flag", task="topic of a support ticket"), ".")
    recs = [Record({"text": "I was charged twice for my subscription invoice.", "label": "billing"}),
            Record({"text": "The app crashes with error 500 when I log in.", "label": "technical"})]
    outs = [asyncio.run(gate.check(r, GateContext(llm=llm, seed=1))) for r in recs]
    for out in outs:
        assert isinstance(out, Record) and not isinstance(out, Rejection)
        assert out.meta["scores"]["label_predicted"] in labels
        assert isinstance(out.meta["scores"]["label_agrees"], bool)
    assert gate.agreement_rate is not None and 0.0 <= gate.agreement_rate <= 1.0
