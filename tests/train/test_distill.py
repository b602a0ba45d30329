"""Distill files: the examples parse, and a wrong one gets one clear error (no model run here)."""
from __future__ import annotations

from pathlib import Path

import pytest

from synthloom.errors import RecipeError
from synthloom.train.distill import load_distill

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["intents.yaml", "invoices.yaml"])
def test_example_distill_files_parse(name):
    spec, recipe, _ = load_distill(ROOT / "examples" / "distill" / name)
    assert recipe.count == spec.count
    assert (ROOT / "examples" / "distill" / spec.eval.data).is_file()


def test_a_plain_recipe_is_not_a_distill_file():
    with pytest.raises(RecipeError, match="a distill file is a mapping with `teacher:`"):
        load_distill(ROOT / "examples" / "intents.yaml")


def test_a_typo_names_the_field(tmp_path):
    f = tmp_path / "d.yaml"
    f.write_text("name: x\nteacher: ../intents.yaml\nstudent: {kind: classifier, max_step: 3}\n")
    with pytest.raises(RecipeError, match=r"student\.max_step"):
        load_distill(f)
    f.write_text("name: x\nteacher: nope.yaml\n")
    with pytest.raises(RecipeError, match="nope.yaml: recipe file not found"):
        load_distill(f)


@pytest.mark.model
def test_distill_end_to_end_on_the_bundled_model_and_a_rerun_redoes_nothing(tmp_path):
    """teacher (bundled model) -> gates -> split -> classifier student -> scored on the real file; then resumed."""
    from synthloom.train.distill import distill

    f = tmp_path / "distill.yaml"
    f.write_text(f"name: tiny-intents\nteacher: {ROOT / 'examples' / 'intents-schema.yaml'}\ncount: 16\n"
                 "student: {kind: classifier, text_field: text, label_field: label, min_per_label: 1}\n"
                 f"eval: {{data: {ROOT / 'examples' / 'intents-real.csv'}}}\n")
    out = tmp_path / "out"
    logs: list[str] = []
    report = distill(f, output=out, log=logs.append)
    assert report["teacher"]["accepted"] == 16
    real = report["evaluations"]["real"]
    assert real["n"] == 40 and 0.0 <= real["accuracy"] <= 1.0 and "macro_f1" in real
    md = (out / "report.md").read_text()
    assert "## Real data" in md and (out / "student" / "student.json").is_file()
    logs.clear()
    again = distill(f, output=out, log=logs.append)
    assert again["teacher"]["cache_hits"] == again["teacher"]["calls"]  # the teacher replays from its cache
    assert any("trained already" in line for line in logs) and any("done already" in line for line in logs)
    assert again["evaluations"]["real"]["accuracy"] == real["accuracy"]
