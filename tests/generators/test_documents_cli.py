"""`synthloom generate extract|documents|qa` and `synthloom rag-export`: help, bad input, a scripted run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import synthloom.llm.factory as factory
from fakes import ScriptedLLM
from synthloom.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


@pytest.mark.parametrize("cmd", [["generate", "extract"], ["generate", "documents"], ["generate", "qa"], ["rag-export"]])
def test_every_command_has_help(cmd):
    r = runner.invoke(app, [*cmd, "--help"])
    assert r.exit_code == 0 and "Usage" in r.output and len(r.output) > 300


def test_bad_input_exits_2_with_one_clear_message(tmp_path):
    r = runner.invoke(app, ["generate", "qa", "--docs", str(tmp_path / "missing"), "-n", "2"])
    assert r.exit_code == 2 and "no such file or folder" in r.output and "Traceback" not in r.output
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["generate", "qa", "--docs", str(tmp_path / "empty"), "-n", "2"])
    assert r.exit_code == 2 and "no documents found" in r.output
    r = runner.invoke(app, ["generate", "qa", "--docs", str(EXAMPLES / "docs/kb"), "--kinds", "factual:1"])
    assert r.exit_code == 2 and "--kinds" in r.output
    r = runner.invoke(app, ["generate", "extract", "--docs", str(EXAMPLES / "docs/invoices"),
                            "--schema", str(tmp_path / "nope.json")])
    assert r.exit_code == 2 and "nope.json" in r.output
    r = runner.invoke(app, ["generate", "documents", "--schema", str(EXAMPLES / "invoice.schema.json"), "-n", "0"])
    assert r.exit_code == 2 and "must be > 0" in r.output
    r = runner.invoke(app, ["rag-export", str(tmp_path)])
    assert r.exit_code == 2 and "no run store" in r.output


def qa_model(req):
    from synthloom.generators.qa_answer_support import key_terms

    schema = req.json_schema
    props = schema["properties"]
    if "verdict" in props:
        return {"verdict": "no" if "whether a passage answers" in req.messages[0]["content"] else "yes"}
    n = len(req.messages[-1]["content"]) + req.seed % 997
    if "answer" in props:  # factual/multi-hop: the request names its evidence sentences, the answer is a span
        e = req.messages[-1]["content"].split("Sentence ", 1)[1].split(": ", 1)[1].split("\n")[0]  # (the first) named
        return {"question": f"What does section {n} say about {key_terms(e)[0]}?", "answer": props["answer"]["enum"][0]}
    return {"question": f"Is there a discount number {n} for students?"}


def test_generate_qa_with_rag_format(tmp_path, monkeypatch):
    monkeypatch.setattr(factory, "build_llm", lambda models: ScriptedLLM(qa_model))
    out = tmp_path / "qa"
    # `relevant` would score the scripted pairs on the bundled model (quality/pair_fit.py): off in this unit test
    r = runner.invoke(app, ["generate", "qa", "--docs", str(EXAMPLES / "docs/kb"), "-n", "4", "-o", str(out),
                            "--rag-format", "--max-attempts", "40", "--checks", "readable,complete"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(set(row) == {"question", "answer", "evidence", "source_ids", "kind"} for row in rows)
    rag = [json.loads(line) for line in (out / "rag_eval.jsonl").read_text().splitlines()]
    assert [x["question"] for x in rag] == [x["question"] for x in rows]
    assert all(x["contexts"] and x["reference"] == x["ground_truth"] for x in rag)
    # the standalone command writes the same rows from the run folder
    r = runner.invoke(app, ["rag-export", str(out), "-o", str(tmp_path / "again.jsonl")])
    assert r.exit_code == 0 and (tmp_path / "again.jsonl").read_text() == (out / "rag_eval.jsonl").read_text()


def test_generate_extract_defaults_to_one_pair_per_document(tmp_path, monkeypatch):
    def extractor(req):
        doc = req.messages[-1]["content"]
        number = next(w for w in doc.replace(":", " ").split() if "-" in w and w[0].isalpha() and w[-1].isdigit())
        return {"invoice_number": number, "invoice_date": "2024-01-01", "seller": "S", "buyer": "B",
                "currency": "USD", "line_items": [{"description": "x", "quantity": 1, "unit_price": 1, "amount": 1}],
                "total": 1}
    monkeypatch.setattr(factory, "build_llm", lambda models: ScriptedLLM(extractor))
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {rule: in_document, fields: [invoice_number]}\n")
    out = tmp_path / "ex"
    r = runner.invoke(app, ["generate", "extract", "--docs", str(EXAMPLES / "docs/invoices"),
                            "--schema", str(EXAMPLES / "invoice.schema.json"), "--rules", str(rules),
                            "-o", str(out), "--emit", "messages"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 4  # the four example invoices
    assert all([m["role"] for m in row["messages"]] == ["system", "user", "assistant"] for row in rows)


def test_skipped_files_are_reported_in_the_manifest(tmp_path, monkeypatch):
    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "good.md").write_text("# Trash\n\nFiles stay in the trash for 30 days on every plan, then they are deleted.")
    (docs / "photo.txt").write_bytes(b"\x89PNG\x00\x00\x00binary")
    monkeypatch.setattr(factory, "build_llm", lambda models: ScriptedLLM(qa_model))
    out = tmp_path / "out"
    r = runner.invoke(app, ["generate", "qa", "--docs", str(docs), "-n", "1", "-o", str(out), "--kinds", "factual=1",
                            "--max-attempts", "3", "--checks", "readable,complete"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(s.startswith("photo.txt: binary") for s in manifest["generator"]["skipped"])
