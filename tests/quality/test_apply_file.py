"""`quality.gate_file` and `quality.apply.dedup_file`: the library calls behind `synthloom filter / judge /
label-check` and `synthloom dedup`."""
from __future__ import annotations

import json

import pytest

from fakes import ScriptedLLM
from synthloom.errors import InputFileError, OutputPathError, RecipeError
from synthloom.quality import gate_file


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_filter_keeps_in_order_and_writes_rejections_with_reasons(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": 1, "text": "My card was charged twice this month, please refund it."},
        {"id": 2, "text": "ok"},
        {"id": 3, "text": "I'm sorry, but I can't help with that request."},
        {"id": 4, "text": "The invoice total does not match the items on the order."}])
    res = gate_file(src, tmp_path / "out.jsonl", [{"gate": "filter", "min_words": 3}],
                    rejected=tmp_path / "rej.jsonl")
    assert [r["id"] for r in read(tmp_path / "out.jsonl")] == [1, 4]
    rej = read(tmp_path / "rej.jsonl")
    assert [(r["stage"], r["reason"], r["data"]["id"]) for r in rej] == [("filter", "too_short", 2),
                                                                          ("filter", "refusal", 3)]
    assert all(r["detail"] for r in rej)
    assert (res.read, len(res.kept), len(res.rejected)) == (4, 2, 2)
    assert res.reasons() == {"too_short": 1, "refusal": 1} and res.output == tmp_path / "out.jsonl"


def test_judge_scores_go_under_scores_with_the_rationale(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "Invoice 4471 was charged twice."}, {"text": "It broke."}])
    llm = ScriptedLLM(lambda req: {"rationale": "specific" if "Invoice" in req.messages[-1]["content"] else "vague",
                                   "score": 5 if "Invoice" in req.messages[-1]["content"] else 1})
    res = gate_file(src, tmp_path / "out.jsonl", [{"gate": "judge", "threshold": 3}], llm=llm)
    rows = read(tmp_path / "out.jsonl")
    assert rows == [{"text": "Invoice 4471 was charged twice.", "_scores": {"judge": 5, "judge_rationale": "specific"}}]
    assert res.reasons() == {"low_score": 1}


def test_bad_gate_fields_name_the_origin_and_field(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a b c"}])
    with pytest.raises(RecipeError, match=r"^my gates: min_words must be >= 0 \(got -1\)"):
        gate_file(src, tmp_path / "out.jsonl", [{"gate": "filter", "min_words": -1}], origin="my gates")
    with pytest.raises(RecipeError, match="unknown gate 'nope'"):
        gate_file(src, tmp_path / "out.jsonl", [{"gate": "nope"}])
    assert not (tmp_path / "out.jsonl").exists()


def test_outputs_are_checked_before_any_gate_runs_and_bad_lines_are_named(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a b c"}])
    (tmp_path / "a_file").write_text("x")
    calls = []
    llm = ScriptedLLM(lambda req: calls.append(req) or {"rationale": "r", "score": 5})
    with pytest.raises(OutputPathError):
        gate_file(src, tmp_path / "out.jsonl", [{"gate": "judge"}], rejected=tmp_path / "a_file" / "rej.jsonl", llm=llm)
    assert not calls and not (tmp_path / "out.jsonl").exists()
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n\n{oops\n')
    with pytest.raises(InputFileError, match=r"bad\.jsonl:3: not valid JSON"):
        gate_file(tmp_path / "bad.jsonl", tmp_path / "out.jsonl", [{"gate": "filter"}])


def test_dedup_file_keeps_lines_as_written_and_writes_groups(tmp_path):
    from synthloom.quality.apply import dedup_file

    src = tmp_path / "in.jsonl"
    src.write_text('{"q": "What is 2+2?",   "id": 1}\n{"q": "Name the capital of France.", "id": 2}\n'
                   '{"q": "what is 2 + 2", "id": 3}\n\n{"q": "Name a prime number.", "id": 4}\n')
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"question": "Name a prime number"}])
    res = dedup_file(src, tmp_path / "out.jsonl", "exact", fields=["q"], reference=[bench],
                     reference_field="question", groups=tmp_path / "groups.jsonl")
    assert (tmp_path / "out.jsonl").read_text().splitlines() == [
        '{"q": "What is 2+2?",   "id": 1}', '{"q": "Name the capital of France.", "id": 2}']
    assert read(tmp_path / "groups.jsonl") == [
        {"kept": 1, "duplicates": [{"line": 3, "similarity": 1.0}]},
        {"contaminated": {"line": 4, "reference": 1, "similarity": 1.0}}]
    assert (res.read, res.kept, res.duplicates, res.contaminated) == (4, 2, 1, 1)
