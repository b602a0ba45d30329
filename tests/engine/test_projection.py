"""The run says early when its budget cannot reach the target, with the attempts it would need."""
from __future__ import annotations

import logging

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.engine import run_recipe
from synthloom.engine.projection import default_attempts, projection


def test_projection_numbers():
    assert projection(2, 8, 10, 20) is not None and "about 40 attempts" in projection(2, 8, 10, 20)
    assert projection(8, 8, 10, 20) is None  # on track
    assert projection(1, 4, 10, 20) is None  # too early to tell
    assert "no record accepted" in projection(0, 10, 10, 60)
    assert default_attempts(12, None) == 80 and default_attempts(12, 0.1) == 200


def test_a_run_with_a_known_yield_warns_after_the_first_attempts(tmp_path, caplog):
    state = {"n": 0}

    def one_in_four(req):  # every fourth attempt gives a new valid record, the others no JSON
        state["n"] += 1
        return {"text": f"record {state['n']}"} if state["n"] % 4 == 0 else "not json"

    recipe = Recipe.model_validate({
        "name": "p", "count": 10,
        "generate": {"technique": "schema", "retries": 0,
                     "schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
        "engine": {"concurrency": 1, "max_attempts": 20},
    })
    with caplog.at_level(logging.WARNING, logger="synthloom.engine.runner"):
        summary = run_recipe(recipe, output=tmp_path / "o.jsonl", llm=ScriptedLLM(one_in_four))
    assert summary.accepted == 5 and summary.stopped_by == "max_attempts"
    notes = [r.getMessage() for r in caplog.records if "projected" in r.getMessage()]
    assert len(notes) == 1  # said once, after 8 attempts (2 accepted), not at the end
    assert "yield so far 2/8" in notes[0] and "about 40 attempts would be needed" in notes[0]
