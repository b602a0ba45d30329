"""Schema-driven generation end to end on the bundled model."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from synthloom import RunStore, load_recipe, run_recipe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.model


@pytest.mark.smoke
def test_billing_tickets_on_bundled_model(tmp_path):
    recipe = load_recipe(EXAMPLES / "billing-tickets.yaml", {"count": 3})
    out = tmp_path / "tickets.jsonl"
    summary = run_recipe(recipe, base_dir=EXAMPLES, output=out)
    assert summary.complete
    schema = json.loads((EXAMPLES / "tickets.schema.json").read_text())
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 3
    for row in rows:
        jsonschema.validate(row, schema, format_checker=jsonschema.FormatChecker())
    assert len({json.dumps(r, sort_keys=True) for r in rows}) == 3
    with RunStore(tmp_path / "tickets.run" / "store.sqlite") as store:
        recs = store.accepted_records()
        # the sampled category is the record's category: the axis pins the field
        assert all(r.data["category"] == r.meta["attributes"]["category"] for r in recs)
        assert all(r.meta["model"].startswith("llamacpp:") for r in recs)
    manifest = json.loads((tmp_path / "tickets.run" / "manifest.json").read_text())
    assert manifest["counts"]["accepted"] == 3
    # the same recipe again: finished at once from the store, identical file
    first = out.read_text()
    again = run_recipe(recipe, base_dir=EXAMPLES, output=out)
    assert again.calls == 0 and out.read_text() == first
