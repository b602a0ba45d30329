"""The documents technique's document form on the bundled model: a few lost-pet posters, each stating its record."""
from __future__ import annotations

import json

import pytest

from synthloom import RunStore, run_recipe
from synthloom.config import Recipe
from synthloom.quality.rules import missing_values

pytestmark = pytest.mark.model

SCHEMA = {"type": "object", "additionalProperties": False,
          "required": ["pet_name", "species", "colour", "last_seen", "date_lost", "phone"],
          "properties": {"pet_name": {"type": "string"}, "species": {"type": "string"}, "colour": {"type": "string"},
                         "last_seen": {"type": "string"}, "date_lost": {"type": "string", "format": "date"},
                         "phone": {"type": "string"}}}
EXAMPLES = [
    {"label": {"pet_name": "Biscuit", "species": "dog", "colour": "brown and white", "last_seen": "Elm Park",
               "date_lost": "2024-04-12", "phone": "555-0142"},
     "document": "LOST DOG - BISCUIT\nBiscuit is a brown and white dog, very friendly.\n"
                 "Last seen near Elm Park on 2024-04-12.\nIf you see him please call 555-0142."},
    {"label": {"pet_name": "Luna", "species": "cat", "colour": "grey", "last_seen": "Mill Street",
               "date_lost": "2024-06-03", "phone": "555-0198"},
     "document": "MISSING CAT: LUNA\nOur grey cat Luna went missing on 2024-06-03 from Mill Street.\n"
                 "She is shy and may hide in gardens. Please check your sheds.\nCall 555-0198 with any news."},
]


def test_lost_pet_posters_state_every_value_of_their_record(tmp_path):
    recipe = Recipe.model_validate({
        "name": "posters", "count": 2, "model": {"backend": "llamacpp"},
        "generate": {"technique": "documents", "schema": SCHEMA, "document_type": "lost pet poster",
                     "examples": EXAMPLES},
        "engine": {"concurrency": 1, "max_attempts": 4},
    })
    out = tmp_path / "posters.jsonl"
    summary = run_recipe(recipe, base_dir=tmp_path, output=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    with RunStore(summary.run_dir / "store.sqlite") as store:
        accepted, rejected = store.accepted_records(), list(store.rejections())
    assert rows, [(r.reason, r.detail) for r in rejected]
    for row in rows:  # what a user checks: each record's values are in its poster, no slot left unfilled
        assert missing_values(row["label"], row["document"]) == []
        assert "{" not in row["document"]
        for value in (row["label"]["pet_name"], row["label"]["phone"], row["label"]["date_lost"]):
            assert value.lower() in row["document"].lower()
    assert {r.meta["prompt_form"] for r in accepted} == {"document"}  # auto on the bundled base model
    for rej in rejected:
        assert rej.reason in ("rule:recoverable", "rule:invented", "rule:misattributed", "unknown_slot",
                              "repeated_value", "empty_document", "copied_example") or rej.reason.startswith(("schema:", "truncated",
                                                                                                 "value:"))
