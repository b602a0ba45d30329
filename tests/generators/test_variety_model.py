"""Planned variety end to end on the bundled model: the shipped example, with model-written personas
instead of the file, resumed from the cache with the same plan."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom import RunStore, load_recipe, run_recipe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.model


def test_samplers_personas_and_a_topic_tree_on_the_bundled_model(tmp_path):
    recipe = load_recipe(EXAMPLES / "tickets-variety.yaml", {
        "count": 2, "generate.samplers.written_by": {
            "kind": "personas", "count": 3,
            "examples": ["a freelance designer who pays for the plan with a personal card"]}})
    out = tmp_path / "tickets.jsonl"
    summary = run_recipe(recipe, base_dir=EXAMPLES, output=out)
    assert summary.complete
    manifest = json.loads((tmp_path / "tickets.run" / "manifest.json").read_text())
    plan = manifest["generator"]["variety"]
    personas, leaves = plan["written_by"]["planned"], plan["topic"]["planned"]
    assert len(personas) == 3 and len({p.lower() for p in personas}) == 3
    assert 1 <= len(leaves) <= 3 and all(leaf.strip() for leaf in leaves)
    with RunStore(tmp_path / "tickets.run" / "store.sqlite") as store:
        for rec in store.accepted_records():
            a = rec.meta["attributes"]
            # pinned: the record carries the sampled category and amount
            assert rec.data["category"] == a["category"] and rec.data["amount"] == a["amount"]
            assert a["written_by"] in personas and a["topic"] in leaves
    again = run_recipe(recipe, base_dir=EXAMPLES, output=out)  # the plan and the records from the cache
    assert again.calls == 0
