"""Adversarial inputs for a classifier: generation per kind, the independent label check, the attacked
classifier (a real OpenAI-compatible HTTP endpoint on loopback), and the per-kind report."""
from __future__ import annotations

import json

import pytest

from fakes import ScriptedLLM
from helpers.fake_openai import FakeOpenAI
from synthloom import RecipeError, RunStore, arun_recipe, run_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.generators.adversarial import adversarial_report, load_labels

LABELS = {"refund": "the customer wants money back", "shipping": "where is my parcel",
          "praise": "the customer is happy"}


def writer(verifier_label):
    """Writes one text per request, naming label and kind in it; the verifier answers `verifier_label(text)`."""
    n = {"i": 0}

    def respond(req):
        if req.purpose == "label":
            text = json.loads(req.messages[-1]["content"].split("Text:\n", 1)[1])["text"]
            return {"label": verifier_label(text)}
        ask = req.messages[-1]["content"]
        label = ask.split("Label: ")[1].split(" ")[0]
        kind = ask.split("Difficulty: ")[1].split(":")[0]
        n["i"] += 1
        return {"text": f"number {n['i']} about {label} written as {kind} so it is hard"}
    return respond


def make(count, **gen):
    return recipe_from_dict({"name": "adv", "count": count,
                             "generate": {"technique": "adversarial", "labels": LABELS,
                                          "task": "the intent of a support message", **gen},
                             "engine": {"concurrency": 1, "max_attempts": 3 * count}}, "test")


def test_examples_cover_labels_and_kinds_and_keep_only_verified(tmp_path):
    # the independent pass disagrees on every third text: those are rejected as label_mismatch
    def verdict(text):
        n = int(text.split()[1])
        label = text.split("about ")[1].split()[0]
        return "praise" if n % 3 == 0 and label != "praise" else label

    rec = make(6, kinds=["sentiment_intent_mismatch", "negation"])
    summary = run_recipe(rec, base_dir=tmp_path, output=tmp_path / "o", llm=ScriptedLLM(writer(verdict)))
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), list(s.rejections())
    assert summary.complete
    assert {r.data["label"] for r in accepted} == set(LABELS)
    assert {r.data["kind"] for r in accepted} == {"sentiment_intent_mismatch", "negation"}
    for r in accepted:
        assert set(r.data) == {"text", "label", "kind"} and f"about {r.data['label']}" in r.data["text"]
        assert r.meta["scores"]["label_agrees"] is True
    assert {r.reason for r in rejected} == {"label_mismatch"}
    report = adversarial_report(accepted)
    assert sum(v["made"] for v in report.values()) == 6 and all(v["verified"] == v["made"] for v in report.values())


async def test_a_classifier_endpoint_is_attacked_and_fooled_examples_counted(tmp_path):
    server = await FakeOpenAI().start()

    def classify(body):  # a weak classifier: everything that mentions negation it calls praise
        text = body["messages"][-1]["content"]
        label = "praise" if "negation" in text else text.split("about ")[1].split()[0]
        return (200, {"choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": json.dumps({"label": label})}}],
                      "usage": {"prompt_tokens": 5, "completion_tokens": 3}}, {})
    server.script = [classify] * 50
    try:
        rec = make(6, kinds=["negation", "typos_slang"], verify=True,
                   classifier={"base_url": server.base_url, "model": "clf", "keep": "fooled"})
        summary = await arun_recipe(rec, base_dir=tmp_path, output=tmp_path / "o",
                                    llm=ScriptedLLM(writer(lambda t: t.split("about ")[1].split()[0])))
    finally:
        await server.stop()
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), list(s.rejections())
    assert server.bodies, "the classifier endpoint was never called"
    for r in accepted:  # kept: what fooled it while the independent pass agreed with the intended label
        assert r.meta["classifier"]["fooled"] is True and r.meta["classifier"]["predicted"] != r.data["label"]
        assert r.data["kind"] == "negation" and r.data["label"] != "praise"
    assert {r.reason for r in rejected} == {"not_fooled"}
    report = adversarial_report(accepted)
    assert report["negation"]["fooled"] == report["negation"]["made"] == len(accepted)


def test_label_sets_and_errors(tmp_path):
    (tmp_path / "labels.yaml").write_text("labels:\n  - {name: refund, description: money back}\n"
                                          "  - {name: other, description: anything else}\n")
    assert load_labels("labels.yaml", tmp_path) == {"refund": "money back", "other": "anything else"}
    assert load_labels(["a", "needs_help"], tmp_path) == {"a": "a", "needs_help": "needs help"}
    assert load_labels({"refund": "money back", "praise": "happy"}, tmp_path)["praise"] == "happy"
    (tmp_path / "bad.yaml").write_text("labels:\n  - {name: refund}\n  - {name: other, description: x}\n")
    with pytest.raises(Exception, match="bad.yaml: labels.0.description: required field is missing"):
        load_labels("bad.yaml", tmp_path)
    with pytest.raises(Exception, match="at least two labels"):
        load_labels(["only"], tmp_path)
    with pytest.raises(RecipeError, match="unknown kind 'sarcasm'"):
        make(1, kinds=["sarcasm"])
