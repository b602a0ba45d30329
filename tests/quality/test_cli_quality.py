"""The quality commands as a user runs them: dedup, report, sample, review-import."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from helpers.scripted_run import make_run
from synthloom.cli import app

runner = CliRunner()
PARA = ("My card was charged twice for the March invoice, once on the third and again on the fifth. "
        "Please refund the second charge of forty nine dollars to the same card.")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_dedup_minhash_keeps_the_first_and_writes_groups(tmp_path):
    rows = [{"id": 1, "text": PARA}, {"id": 2, "text": "The app crashes when I open settings."},
            {"id": 3, "text": PARA.replace("fifth", "sixth")}, {"id": 4, "text": PARA.upper()}]
    write_jsonl(tmp_path / "in.jsonl", rows)
    res = runner.invoke(app, ["dedup", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--field", "text",
                              "--method", "minhash", "--threshold", "0.8", "--groups", str(tmp_path / "g.jsonl")])
    assert res.exit_code == 0, res.output
    kept = [json.loads(l)["id"] for l in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert kept == [1, 2]
    groups = [json.loads(l) for l in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert groups[0]["kept"] == 1 and [d["line"] for d in groups[0]["duplicates"]] == [3, 4]
    assert "kept 2" in res.output and "duplicates 2" in res.output


def test_dedup_exact_with_reference_decontaminates(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"q": "What is 2+2?"}, {"q": "Name the capital of France."}, {"q": "what is 2 + 2"}])
    write_jsonl(tmp_path / "bench.jsonl", [{"question": "Name the capital of France"}])
    res = runner.invoke(app, ["dedup", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--field", "q",
                              "--reference", str(tmp_path / "bench.jsonl"), "--reference-field", "question"])
    assert res.exit_code == 0, res.output
    kept = [json.loads(l)["q"] for l in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert kept == ["What is 2+2?"]  # the third is the first again once punctuation and case are dropped
    assert "duplicates 1" in res.output and "contaminated 1" in res.output


def test_dedup_bad_input_exits_2_without_traceback(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n{oops\n')
    res = runner.invoke(app, ["dedup", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and "in.jsonl:2" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o.jsonl").exists()
    res = runner.invoke(app, ["dedup", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--method", "fuzzy"])
    assert res.exit_code == 2 and "--method" in res.output


def test_report_sample_review_import(tmp_path):
    run_dir = make_run(tmp_path)
    res = runner.invoke(app, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert (run_dir / "report" / "report.md").exists() and (run_dir / "report" / "funnel.png").exists()
    res = runner.invoke(app, ["sample", str(run_dir), "-n", "4"])
    assert res.exit_code == 0 and "sampled 4 of 8" in res.output
    md = run_dir / "review" / "sample.md"
    md.write_text(md.read_text().replace("- [ ] accept", "- [x] accept"))
    res = runner.invoke(app, ["review-import", str(md), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["reviewed"] == 4 and data["precision"] == 1.0 and data["ci95"][0] > 0.45
    # the marks join the review page's verdicts in the run store, so `calibrate` sees them
    from synthloom.runs import open_store

    with open_store(run_dir) as store:
        saved = store.verdicts()
    sampled = [json.loads(line)["id"] for line in (run_dir / "review" / "sample.jsonl").read_text().splitlines()]
    assert sorted(saved) == sorted(sampled) and {v["verdict"] for v in saved.values()} == {"accept"}
    res = runner.invoke(app, ["calibrate", str(run_dir), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["reviewed"] == 4


def test_report_on_a_folder_without_a_run_exits_2(tmp_path):
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "store.sqlite" in res.output


def test_every_quality_command_has_help():
    for cmd in ("dedup", "report", "sample", "review-import"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and len(res.output) > 200


def test_filter_command_writes_kept_and_rejected_with_reasons(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"text": "I'm sorry, but I can't help with that request."},
                                         {"text": "My card was charged twice this month, please refund it."},
                                         {"text": "ok"},
                                         {"text": "Mi tarjeta fue cobrada dos veces este mes, por favor."}])
    res = runner.invoke(app, ["filter", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                              "--min-words", "3", "--language", "en", "--rejected", str(tmp_path / "rej.jsonl")])
    assert res.exit_code == 0, res.output
    kept = [json.loads(l)["text"] for l in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert kept == ["My card was charged twice this month, please refund it."]
    rej = [json.loads(l) for l in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert sorted(r["reason"] for r in rej) == ["language", "refusal", "too_short"]
    assert all(r["detail"] and r["data"] for r in rej)


def test_judge_and_label_check_commands_with_a_scripted_model(tmp_path, monkeypatch):
    from fakes import ScriptedLLM
    import synthloom.llm.factory as factory

    def respond(req):
        body = req.messages[-1]["content"]
        if req.purpose == "judge":
            return {"rationale": "detailed" if "invoice" in body else "vague", "score": 4 if "invoice" in body else 2}
        return {"label": "billing" if "invoice" in body or "charged" in body else "technical"}

    monkeypatch.setattr(factory, "build_llm", lambda models: ScriptedLLM(respond))
    write_jsonl(tmp_path / "in.jsonl", [{"text": "I was charged twice on invoice 4471.", "label": "billing"},
                                         {"text": "It broke.", "label": "technical"},
                                         {"text": "The invoice shows the wrong company name.", "label": "technical"}])
    res = runner.invoke(app, ["judge", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "j.jsonl"), "--threshold", "3"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(l) for l in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert [r["text"][:5] for r in rows] == ["I was", "The i"]
    assert rows[0]["_scores"]["judge"] == 4 and rows[0]["_scores"]["judge_rationale"] == "detailed"
    assert "low_score 1" in res.output
    res = runner.invoke(app, ["label-check", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "l.jsonl"),
                              "--labels", "billing,technical"])
    assert res.exit_code == 0, res.output
    kept = [json.loads(l)["text"] for l in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert kept == ["I was charged twice on invoice 4471.", "It broke."]
    assert "label_mismatch 1" in res.output


def test_gate_commands_have_help():
    for cmd in ("filter", "judge", "label-check"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "JSONL" in res.output
