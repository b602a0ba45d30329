"""Labelled text end to end on the bundled model: classification and augment through the CLI."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom import RunStore
from synthloom.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.model


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_generate_classification_on_the_bundled_model(tmp_path):
    out = tmp_path / "intents"
    res = CliRunner().invoke(app, [
        "generate", "classification", "--labels", str(EXAMPLES / "labels/intents.yaml"), "-n", "2",
        "--distribution", "order_status=1,refund_request=0,cancel_order=0,damaged_item=0,account_access=0,other=1",
        "--verify", "flag", "--reference", str(EXAMPLES / "intents.real.jsonl"), "-o", str(out), "--seed", "1"])
    assert res.exit_code == 0, res.output
    rows = _rows(out / "data.jsonl")
    assert Counter(r["label"] for r in rows) == {"order_status": 1, "other": 1}
    real = {json.loads(line)["text"] for line in (EXAMPLES / "intents.real.jsonl").read_text().splitlines()}
    for r in rows:
        assert set(r) == {"text", "label"} and len(r["text"].split()) >= 3 and r["text"] not in real
    with RunStore(out / "store.sqlite") as store:
        recs = store.accepted_records()
    assert all(isinstance(r.meta["scores"]["label_agrees"], bool) for r in recs)  # every one was checked
    assert all(r.meta["scores"]["real_overlap"] <= 0.6 for r in recs)
    assert all(r.meta["model"].startswith("llamacpp:") for r in recs)
    # a base model is asked with a document it continues, not with instructions and JSON turns
    assert all(r.meta["prompt_form"] == "document" and r.meta["template"] == "classify_document" for r in recs)
    # the report has the per-label table and the comparison with the real sample
    from synthloom.quality.embeddings import HashingEmbedder
    from synthloom.export.report import write_report

    md = write_report(out, embedder=HashingEmbedder())["markdown"].read_text()
    assert "| order_status | 1 | " in md and "two-sample AUC" in md


def test_generate_augment_on_the_bundled_model(tmp_path):
    out = tmp_path / "aug"
    res = CliRunner().invoke(app, [
        "generate", "augment", "--data", str(EXAMPLES / "intents.real.jsonl"), "-n", "2", "--operations", "paraphrase",
        "--verify", "flag", "-o", str(out), "--seed", "2"])
    assert res.exit_code == 0, res.output
    real = _rows(EXAMPLES / "intents.real.jsonl")
    with RunStore(out / "store.sqlite") as store:
        recs = store.accepted_records()
    assert len(recs) == 2
    for r in recs:
        src = real[r.meta["source_row"] - 1]
        assert r.data["label"] == src["label"] and r.data["text"] != src["text"]
        assert r.meta["scores"]["source_cosine"] >= 0.4  # the default `relevant` check measured it
        assert r.meta["operation"] == "paraphrase" and r.meta["scores"]["real_overlap"] <= 0.6


def test_best_of_two_on_the_bundled_model_keeps_the_higher_label_pmi(tmp_path):
    out = tmp_path / "best"
    res = CliRunner().invoke(app, [
        "generate", "classification", "--labels", str(EXAMPLES / "labels/intents.yaml"), "-n", "1",
        "--distribution", "order_status=1,refund_request=0,cancel_order=0,damaged_item=0,account_access=0,other=0",
        "--verify", "off", "--checks", "none", "--best-of", "2", "-o", str(out), "--seed", "1"])
    assert res.exit_code == 0, res.output
    with RunStore(out / "store.sqlite") as store:
        (kept,) = store.accepted_records()
        rejected = list(store.rejections())
    assert kept.data["label"] == "order_status" and kept.meta["scores"]["best_of_rank"] == 1
    outranked = [r for r in rejected if r.reason == "best_of:outranked"]
    # both candidates of the slot are accounted for: the kept one, and the other outranked or failing a check
    assert len(rejected) >= 1 and {r.meta["best_of_candidate"] for r in rejected} | {kept.meta["best_of_candidate"]} \
        == {0, 1}
    for r in outranked:
        assert r.meta["scores"]["label_pmi"] <= kept.meta["scores"]["label_pmi"]
        assert f"kept candidate's {kept.meta['scores']['label_pmi']:+.3f}" in r.detail
