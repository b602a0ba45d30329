"""Tool calling on the bundled model: examples/tools.yaml end to end (calls constrained by each tool's schema,
run in the worker, every rejection named by one of the three checks), and `evaluate` scoring its calls."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom import RunStore, run_recipe
from synthloom.engine.recipe_file import load_recipe

pytestmark = [pytest.mark.model, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).parents[2] / "examples"
TOOLS = {"get_weather", "convert_units", "get_order", "list_orders"}


def test_tools_recipe_on_the_bundled_model(tmp_path: Path) -> None:
    recipe = load_recipe(EXAMPLES / "tools.yaml", {"count": 1})
    recipe = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"max_attempts": 4,
                                                                                   "concurrency": 1})})
    summary = run_recipe(recipe, base_dir=EXAMPLES, output=tmp_path / "out")
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), list(s.rejections())
    assert accepted or rejected
    for r in rejected:  # every rejection names its check
        assert r.reason.split(":")[0] in ("format", "execution", "semantics", "invalid_json", "truncated",
                                          "copied_example", "repeated_text", "template_markup", "dedup"), r.reason
    for r in accepted:
        d = r.data
        assert d["request"] and d["answer"] and {t["function"]["name"] for t in d["tools"]} == TOOLS
        for c in d["calls"]:  # every call ran and its result is kept
            assert c["name"] in TOOLS and "result" in c and "error" not in c
        assert r.meta["checks"] == {"format": "pass", "execution": "pass", "semantics": "pass"}


def test_evaluate_scores_the_bundled_models_calls(tmp_path: Path) -> None:
    from synthloom.train.evaluate import evaluate, report_markdown

    lines = (EXAMPLES / "tools" / "eval.jsonl").read_text().splitlines()
    data = tmp_path / "eval.jsonl"
    data.write_text("\n".join(lines[:2] + lines[-1:]) + "\n")  # two requests with calls, one without (time)
    report = evaluate(EXAMPLES / "tools.yaml", data)
    assert report["n"] == 3 and report["n_no_call"] == 1
    assert 0 <= report["name_accuracy"] <= 1 and 0 <= report["arg_recall"] <= 1
    assert "gemma" in report["predictions_from"].lower()
    assert "function names" in report_markdown(report)
    json.dumps(report)
