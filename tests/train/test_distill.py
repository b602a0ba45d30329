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
