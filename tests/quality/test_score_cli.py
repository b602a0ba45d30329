"""`synthloom score`: every row kept, in order, with its scores; clear errors."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from synthloom.cli import app

ROWS = [
    {"id": 1, "prompt": "What is the capital of Australia?", "answer": "Canberra."},
    {"id": 2, "prompt": "The most expensive item in this table is:", "answer": "The best meal ever was a"},
    {"id": 3, "prompt": "Explain why the sky is blue.", "answer": "Air scatters blue light more than red light.",
     "_scores": {"judge": 4}},
    {"id": 4, "prompt": "Dr. No is the sixth book of the Bond series.", "answer": "```python\nprint(1)"},
]


def write(tmp_path, rows):
    p = tmp_path / "in.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    return p


def test_score_keeps_every_row_in_order_and_adds_scores(tmp_path):
    src, out = write(tmp_path, ROWS), tmp_path / "scored.jsonl"
    r = CliRunner().invoke(app, ["score", str(src), "-o", str(out), "--signals", "completeness,form"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert [x["id"] for x in rows] == [1, 2, 3, 4]
    assert {k: v for k, v in rows[2].items() if k != "_scores"} == {k: v for k, v in ROWS[2].items() if k != "_scores"}
    assert rows[2]["_scores"]["judge"] == 4  # scores already there are kept
    comp = [x["_scores"]["completeness"] for x in rows]
    assert comp[0] == 1.0 and comp[2] == 1.0 and comp[1] == 0.0 and comp[3] == 0.0
    assert rows[3]["_scores"]["completeness_reason"] == "open_code_fence"
    assert [x["_scores"]["form_kind"] for x in rows] == ["question", "fragment", "request", "statement"]
    assert "scored 4 rows" in r.output


def test_score_relevance_on_named_fields(tmp_path):
    rows = [{"q": f"Question {i}: how many legs does a {a} have?", "a": f"A {a} has {n} legs."}
            for i, (a, n) in enumerate([("spider", 8), ("dog", 4), ("bird", 2), ("ant", 6), ("horse", 4)])]
    rows += [{"q": "Write a haiku about autumn rain.", "a": "Cold rain on the roof, the maple drops its last leaf."},
             {"q": "Give me a recipe for pancakes.", "a": "The best meal ever was a steak!"}]
    src, out = write(tmp_path, rows), tmp_path / "s.jsonl"
    r = CliRunner().invoke(app, ["score", str(src), "-o", str(out), "--signals", "relevance",
                                 "--instruction-field", "q", "--response-field", "a"])
    assert r.exit_code == 0, r.output
    got = [json.loads(l)["_scores"] for l in out.read_text().splitlines()]
    assert len(got) == len(rows) and all("relevance_cos" in s for s in got)
    assert got[5]["relevance"] > got[6]["relevance"]
    assert got[6]["relevance"] < 0.9


@pytest.mark.parametrize("args, message", [
    (["--signals", "fluency,vibes"], "--signals: unknown signal vibes"),
    (["--signals", "relevance", "--response-field", "reply"], "no 'reply' field for the response"),
    (["--signals", "fluency", "--fluency-every", "0"], "--fluency-every"),
])
def test_score_errors_are_one_line(tmp_path, args, message):
    src, out = write(tmp_path, ROWS), tmp_path / "s.jsonl"
    r = CliRunner().invoke(app, ["score", str(src), "-o", str(out), *args])
    assert r.exit_code == 2 and message in r.output, r.output
    assert not out.exists()


def test_score_reference_pairs_calibrate_a_small_file(tmp_path):
    from pathlib import Path

    seeds = Path(__file__).resolve().parents[2] / "examples" / "seeds.jsonl"
    rows = [{"instruction": "Find the most expensive item in this table: | pen | 2.50 | bag | 35.00 |",
             "output": "The best meal ever was a steak!"},
            {"instruction": "Write a poem about a lighthouse in a storm.",
             "output": "The lamp still turns while the waves climb high,\nthe keeper keeps watch on a thundering sky."}]
    src, out = write(tmp_path, rows), tmp_path / "s.jsonl"
    r = CliRunner().invoke(app, ["score", str(src), "-o", str(out), "--signals", "relevance", "--reference", str(seeds)])
    assert r.exit_code == 0, r.output
    steak, poem = [json.loads(l)["_scores"]["relevance"] for l in out.read_text().splitlines()]
    assert steak < 0.9 <= poem


def test_score_rows_refuses_a_fluency_stride_under_one():
    from synthloom.errors import UsageError
    from synthloom.quality.score import score_rows

    with pytest.raises(UsageError, match="--fluency-every must be at least 1"):
        score_rows([{"instruction": "Say hi.", "output": "Hello there, how are you?"}], ["fluency"], fluency_every=0)
