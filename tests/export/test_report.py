"""The run report: its numbers are the store's numbers; plots are real PNGs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.scripted_run import make_run
from synthloom.engine import RunStore
from synthloom.export.report import build_report, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def cross_check(run_dir: Path, report: dict) -> None:
    """Every count in the report equals the store's own count."""
    with RunStore(run_dir / "store.sqlite") as store:
        funnel = store.funnel()
        counts = [(s, r, n) for s, r, n in store.rejection_counts() if s != "surplus"]
        usage = store.usage()
        accepted = store.accepted_records()
        info = store.run_info()
    assert report["funnel"] == funnel
    assert report["funnel"]["accepted"] == len(accepted)
    assert [(x["stage"], x["reason"], x["count"]) for x in report["rejections"]] == counts
    assert sum(x["count"] for x in report["rejections"]) == funnel["generated"] - funnel["accepted"]
    totals = report["cost"]["totals"]
    for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens"):
        assert totals[k] == sum(u[k] for u in usage)
    assert report["cost"]["wall_s"] == pytest.approx(info["wall_s"], abs=1e-3)
    assert report["diversity"]["n"] == len(accepted)
    assert report["distributions"]["length_chars"]["n"] == len(accepted)


def test_report_numbers_match_the_store(tmp_path):
    run_dir = make_run(tmp_path)
    report = build_report(run_dir)
    cross_check(run_dir, report)
    reasons = {(x["stage"], x["reason"]) for x in report["rejections"]}
    assert {("parse", "invalid_json"), ("filter", "refusal"), ("filter", "too_short"), ("dedup", "exact_duplicate"),
            ("dedup", "near_duplicate"), ("judge", "low_score"), ("label", "label_mismatch")} <= reasons
    for row in report["rejections"]:  # an example of each reason, with its explanation
        assert row["example"] and row["example"]["detail"]
    assert report["yield"] == pytest.approx(report["funnel"]["accepted"] / report["funnel"]["generated"], abs=1e-4)
    # distributions
    tone = report["distributions"]["attributes"]["tone"]["values"]
    assert set(tone) == {"happy", "angry", "neutral"} and sum(v["count"] for v in tone.values()) == 8
    assert all(v["target_share"] == pytest.approx(1 / 3, abs=1e-3) for v in tone.values())
    labels = report["distributions"]["labels"]
    assert labels["agreed"] == 8 and labels["disagreed"] >= 1
    assert labels["agreement_rate"] == pytest.approx(labels["agreed"] / labels["checked"], abs=1e-4)
    judge = report["distributions"]["judge_scores"]["histogram"]
    assert judge["4"]["accepted"] == 8 and judge["2"]["rejected"] >= 1
    # cost by purpose: generation, judge and label calls are told apart
    purposes = {u["purpose"] for u in report["cost"]["by_model_and_purpose"]}
    assert purposes == {"generate", "judge", "label"}
    d = report["diversity"]
    assert 0 < d["distinct_1"] <= 1 and d["compression_ratio"] > 0 and 0 <= d["self_bleu"] <= 1


def test_write_report_files(tmp_path):
    run_dir = make_run(tmp_path)
    paths = write_report(run_dir)
    assert paths["markdown"] == run_dir / "report" / "report.md"
    saved = json.loads(paths["json"].read_text())
    cross_check(run_dir, saved)
    for name in ("funnel", "rejections", "lengths", "attributes", "labels", "judge_scores"):
        data = paths[name].read_bytes()
        assert data[:8] == PNG and len(data) > 5000, name
    md = paths["markdown"].read_text()
    f = saved["funnel"]
    assert f"accepted **{f['accepted']}** of {f['generated']}" in md
    assert "label_mismatch" in md and "![funnel](funnel.png)" in md and "Vendi score" in md
    assert "## Cost" in md and "judge" in md


def test_report_of_a_missing_run_names_the_fix(tmp_path):
    from synthloom.errors import InputFileError

    with pytest.raises(InputFileError, match="store.sqlite"):
        build_report(tmp_path)


@pytest.mark.model
def test_report_of_a_real_run_on_the_bundled_model(tmp_path):
    from synthloom import load_recipe, run_recipe

    examples = Path(__file__).resolve().parents[2] / "examples"
    recipe = load_recipe(examples / "billing-tickets.yaml", {"count": 3})
    recipe = recipe.model_copy(update={"quality": recipe.quality + [
        type(recipe.quality[0]).model_validate({"gate": "dedup", "method": "minhash"})]})
    out = tmp_path / "t.jsonl"
    run_recipe(recipe, base_dir=examples, output=out)
    run_dir = tmp_path / "t.run"
    paths = write_report(run_dir)
    report = json.loads(paths["json"].read_text())
    cross_check(run_dir, report)
    assert report["funnel"]["accepted"] == 3
    assert report["cost"]["totals"]["completion_tokens"] > 0
    assert report["cost"]["by_model"] and all(m.startswith("llamacpp:") for m in report["cost"]["by_model"])
    assert set(report["distributions"]["attributes"]) == {"category", "tone"}
    assert paths["funnel"].read_bytes()[:8] == PNG


def test_the_report_lists_every_narrowing_and_rule(tmp_path):
    """What the decoder narrowed in the user's schema and the rules it applied are in the manifest and the
    report, with their source: nothing is narrowed out of sight."""
    import itertools

    from fakes import ScriptedLLM
    from synthloom.config import Recipe
    from synthloom.engine import run_recipe
    from synthloom.export.report_md import render_markdown

    schema = {"type": "object", "required": ["code", "start", "end"], "properties": {
        "code": {"type": "string"}, "start": {"type": "string", "format": "date"},
        "end": {"type": "string", "format": "date"}}}
    counter = itertools.count()
    llm = ScriptedLLM(lambda req: {"code": f"KV-{300 + next(counter)}", "start": "1990-02-01", "end": "1990-03-01"})
    recipe = Recipe.model_validate({
        "name": "spans", "count": 2,
        "generate": {"technique": "schema", "schema": schema,
                     "examples": [{"code": "KV-101", "start": "1992-01-01", "end": "1992-02-01"},
                                  {"code": "LM-202", "start": "1994-05-01", "end": "1994-07-01"}],
                     "rules": [{"rule": "order", "field": "end", "after": "start", "within_days": 90}]},
        "engine": {"concurrency": 1}})
    run_recipe(recipe, base_dir=tmp_path, output=tmp_path / "out.jsonl", llm=llm)
    run_dir = tmp_path / "out.run"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "code: pattern ^[A-Z]{2}-[0-9]{3}$ (from 2 examples)" in manifest["generator"]["narrowing"]
    assert manifest["generator"]["rules"] == ["rule:order: end after start, within 90 days"]
    md = render_markdown(build_report(run_dir, embedder=None))
    assert "## What the decoder narrowed, and the rules applied" in md
    assert "start: real calendar date, years 1940-2049 (from format: date and 2 examples)" in md
    assert "rule:order: end after start, within 90 days" in md
    assert "retries (after a failed try): free strings and lists capped" in md  # the ladder is shown too
