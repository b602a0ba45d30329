"""`export.rag`: a run's question/answer records as the rows RAG evaluators read."""
from __future__ import annotations

import json

import pytest

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.engine import run_recipe
from synthloom.errors import InputFileError
from synthloom.export.rag import export_rag

QA = [("How long does a refund take?", "Refunds reach the card within five working days."),
      ("Can I change the delivery address?", "Yes, until the parcel has left the warehouse.")]


def test_export_rag_writes_one_row_per_accepted_question(tmp_path):
    schema = {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
              "required": ["question", "answer"]}
    answers = iter(QA)
    recipe = Recipe.model_validate({"name": "faq", "count": 2, "quality": [],
                                    "generate": {"technique": "schema", "schema": schema, "instruction": "support FAQ"},
                                    "engine": {"concurrency": 1}})
    summary = run_recipe(recipe, output=tmp_path / "faq.jsonl",
                         llm=ScriptedLLM(lambda req: dict(zip(("question", "answer"), next(answers)))))
    n = export_rag(summary.run_dir, tmp_path / "rag.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "rag.jsonl").read_text().splitlines()]
    assert n == 2
    assert [(r["question"], r["ground_truth"], r["reference"]) for r in rows] == [(q, a, a) for q, a in QA]
    assert all(r["contexts"] == [] and r["evidence"] == [] for r in rows)


def test_export_rag_needs_a_run_folder(tmp_path):
    with pytest.raises(InputFileError, match="no run store"):
        export_rag(tmp_path, tmp_path / "rag.jsonl")
    assert not (tmp_path / "rag.jsonl").exists()
