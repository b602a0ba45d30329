"""Judge and label gates with a scripted model: scores, rationales, rejections, agreement."""
from __future__ import annotations

import asyncio
import json

import pytest

from fakes import ScriptedLLM
from synthloom.config.quality import JudgeGateConfig, LabelGateConfig
from synthloom.quality import build_gate
from synthloom.quality.base import GateContext
from synthloom.records import Record, Rejection


def check(gate, rec, llm):
    return asyncio.run(gate.check(rec, GateContext(llm=llm, seed=7)))


def judge_by_length(req):
    record = json.loads(req.messages[-1]["content"].split("Record:\n", 1)[1])
    n = len(record.get("body", ""))
    return {"rationale": f"body has {n} characters", "score": 5 if n > 40 else 2}


def test_judge_keeps_high_scores_and_stores_the_rationale():
    llm = ScriptedLLM(judge_by_length)
    gate = build_gate(JudgeGateConfig(threshold=3), ".")
    good = check(gate, Record({"body": "My card was charged twice on March 3 for invoice 4471."}), llm)
    bad = check(gate, Record({"body": "refund"}), llm)
    assert isinstance(good, Record)
    assert good.meta["scores"]["judge"] == 5 and "characters" in good.meta["judge"]["rationale"]
    assert isinstance(bad, Rejection) and (bad.stage, bad.reason) == ("judge", "low_score")
    assert "scored 2/5" in bad.detail and bad.meta["scores"]["judge"] == 2
    req = llm.requests[0]
    assert req.purpose == "judge" and req.json_schema["properties"]["score"]["maximum"] == 5
    assert req.temperature == 0.0 and isinstance(req.seed, int)
    assert "rubric" in req.messages[0]["content"].lower() or "score" in req.messages[0]["content"].lower()


def test_judge_is_replayable_same_seed_for_same_record():
    llm = ScriptedLLM(judge_by_length)
    gate = build_gate(JudgeGateConfig(), ".")
    rec = Record({"body": "My card was charged twice on March 3 for invoice 4471."})
    check(gate, rec, llm)
    check(gate, rec, llm)
    assert llm.requests[0] == llm.requests[1]


def test_judge_user_rubric_and_criteria_reach_the_prompt():
    llm = ScriptedLLM(lambda r: {"rationale": "ok", "score": 4})
    cfg = JudgeGateConfig(rubric="5 = a pirate wrote it; 1 = no pirate", criteria=["mentions treasure"])
    check(build_gate(cfg, "."), Record({"body": "Arr"}), llm)
    system = llm.requests[0].messages[0]["content"]
    assert "pirate" in system and "mentions treasure" in system


def test_judge_unreadable_verdict_is_a_judge_error():
    gate = build_gate(JudgeGateConfig(), ".")
    out = check(gate, Record({"body": "x"}), ScriptedLLM(lambda r: "I think it is fine"))
    assert isinstance(out, Rejection) and out.reason == "judge_error"


def test_judge_can_use_its_own_model():
    gen = ScriptedLLM(lambda r: {"rationale": "generator", "score": 1}, identity="fake:generator")
    judge = ScriptedLLM(lambda r: {"rationale": "judge", "score": 5}, identity="fake:judge")
    gate = build_gate(JudgeGateConfig(), ".")
    gate.llm = judge
    out = check(gate, Record({"body": "x"}), gen)
    assert isinstance(out, Record) and out.meta["judge"]["model"] == "fake:judge" and not gen.requests


SENTIMENT = ["positive", "negative", "neutral"]


def label_by_keyword(req):
    text = req.messages[-1]["content"]
    assert '"label"' not in text  # the checker never sees the label
    return {"label": "negative" if "broken" in text or "late" in text else "positive"}


def test_label_gate_rejects_disagreements_and_counts_agreement():
    llm = ScriptedLLM(label_by_keyword)
    gate = build_gate(LabelGateConfig(labels=SENTIMENT, task="sentiment of a review"), ".")
    recs = [Record({"text": "Love it, works great", "label": "positive"}),
            Record({"text": "Arrived broken", "label": "negative"}),
            Record({"text": "Arrived late and broken", "label": "positive"})]
    outs = [check(gate, r, llm) for r in recs]
    assert isinstance(outs[0], Record) and outs[0].meta["scores"]["label_agrees"] is True
    assert isinstance(outs[1], Record)
    assert isinstance(outs[2], Rejection) and outs[2].reason == "label_mismatch"
    assert "'positive'" in outs[2].detail and "'negative'" in outs[2].detail
    assert gate.agreement_rate == pytest.approx(2 / 3)
    enums = [r.json_schema["properties"]["label"]["enum"] for r in llm.requests]
    assert all(sorted(e) == sorted(SENTIMENT) for e in enums)
    assert llm.requests[0].purpose == "label"


def test_label_order_varies_between_records_but_not_between_runs():
    gate = build_gate(LabelGateConfig(labels=["a", "b", "c", "d"]), ".")
    recs = [Record({"text": f"t{i}", "label": "a"}) for i in range(12)]
    orders = [tuple(gate.request(r, GateContext(seed=1)).json_schema["properties"]["label"]["enum"]) for r in recs]
    assert len(set(orders)) > 1
    assert orders == [tuple(gate.request(r, GateContext(seed=1)).json_schema["properties"]["label"]["enum"]) for r in recs]


def test_label_gate_flag_mode_keeps_disagreements():
    gate = build_gate(LabelGateConfig(labels=SENTIMENT, action="flag"), ".")
    out = check(gate, Record({"text": "Arrived broken", "label": "Positive"}), ScriptedLLM(label_by_keyword))
    assert isinstance(out, Record) and out.meta["label_flagged"] is True
    assert out.meta["scores"]["label_agrees"] is False and out.meta["scores"]["label_predicted"] == "negative"


def test_label_gate_unknown_and_missing_labels():
    gate = build_gate(LabelGateConfig(labels=SENTIMENT), ".")
    llm = ScriptedLLM(label_by_keyword)
    assert check(gate, Record({"text": "x", "label": "angry"}), llm).reason == "label_unknown"
    assert check(gate, Record({"text": "x"}), llm).reason == "label_missing"
    assert not llm.requests
