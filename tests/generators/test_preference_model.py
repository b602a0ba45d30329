"""The preference technique end to end on the bundled model: a recipe run, its pairs, the funnel, the report,
and a TRL export that `datasets` loads."""
from __future__ import annotations

from pathlib import Path

import pytest

PROMPTS = Path(__file__).resolve().parents[2] / "examples" / "preference" / "prompts.jsonl"


@pytest.mark.model
@pytest.mark.timeout(300)
def test_preference_run_on_the_bundled_model(tmp_path):
    datasets = pytest.importorskip("datasets")
    from synthloom.config import Recipe
    from synthloom.engine import RunStore, run_recipe
    from synthloom.export.dataset import export_run
    from synthloom.export.report import build_report

    recipe = Recipe.model_validate({
        "name": "pref-model", "count": 1,
        "generate": {"technique": "preference", "prompts": str(PROMPTS), "signals": ["completeness", "fluency"],
                     "weights": {"judge": 1.0, "signals": 1.0},
                     "responses": [{"name": "careful", "temperature": 0.3, "max_tokens": 80},
                                   {"name": "weak", "prompt": "weak", "temperature": 1.2, "max_tokens": 80}],
                     "judge": {"max_tokens": 320}},
        "engine": {"max_attempts": 3, "concurrency": 1}})
    out = tmp_path / "out"
    run_recipe(recipe, output=out)
    with RunStore(out / "store.sqlite") as store:
        recs = store.accepted_records()
        rejected = list(store.rejections())
    assert len(recs) == 1, f"no pair in 3 prompts: {[(r.reason, r.detail) for r in rejected]}"
    (rec,) = recs
    d, m = rec.data, rec.meta
    assert d["chosen"] != d["rejected"] and d["score_chosen"] - d["score_rejected"] >= 0.1 - 1e-9
    assert {m["chosen_strategy"], m["rejected_strategy"]} == {"careful", "weak"}
    for e in m["responses"]:  # every response rated on the four aspects, each with a rationale
        assert set(e["ratings"]) == {"helpfulness", "honesty", "instruction_following", "truthfulness"}
        assert all(1 <= r["rating"] <= 5 and r["rationale"] for r in e["ratings"].values())
        assert 0 <= e["signals"]["completeness"] <= 1 and 0 <= e["signals"]["fluency"] <= 1
    assert all(r.stage == "pair" and r.reason in ("tie", "under_margin", "same_text", "too_few_responses",
                                                  "too_few_scored") for r in rejected)
    rep = build_report(out, embedder=None)["preference"]
    assert rep["pairs"] == 1 and rep["prompts_tried"] == 1 + len(rejected)
    export_run(out, "dpo", tmp_path / "dpo", split="1")
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "dpo" / "train.jsonl"))["train"]
    assert ds[0] == {"prompt": d["prompt"], "chosen": d["chosen"], "rejected": d["rejected"]}
