"""qa on the bundled model: factual pairs on a tiny knowledge base spread over its sentences."""
from __future__ import annotations

from pathlib import Path

import pytest

from synthloom import RunStore, run_recipe
from synthloom.config import Recipe

pytestmark = pytest.mark.model

DOCS = {
    "hours.md": "# Opening hours\n\nThe pool opens at 7:00 on weekdays and at 9:00 on weekends. Lane swimming is "
                "reserved for members before 8:00. Children under eight must be accompanied by an adult in the "
                "water.\n",
    "lockers.md": "# Lockers and towels\n\nLockers take a one-euro coin that is returned when you open them. Towels "
                  "can be rented at the desk for two euros. Lost property is kept at the desk for one month.\n",
}


def _factual_run(tmp_path: Path, name: str, count: int, max_attempts: int) -> tuple[list, list]:
    """A factual-only qa run on the DOCS pool without the judge: (accepted records, rejections)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for file, text in DOCS.items():
        (docs / file).write_text(text)
    recipe = Recipe.model_validate({
        "name": name, "count": count,
        "generate": {"technique": "qa", "docs": str(docs), "kinds": {"factual": 1}, "judge": False,
                     "min_chunk_chars": 50},
        "engine": {"concurrency": 1, "max_attempts": max_attempts},
    })
    summary = run_recipe(recipe, base_dir=tmp_path, output=tmp_path / "qa.jsonl")
    with RunStore(summary.run_dir / "store.sqlite") as store:
        return store.accepted_records(), list(store.rejections())


def test_six_factual_pairs_cite_at_least_four_sentences(tmp_path: Path):
    """The plan spreads the questions: the pairs the model wrote (accepted or not: a 270M writer's yield
    is low, ~15% here) cite at least four of the six sentences; the accepted ones answer from theirs."""
    accepted, rejected = _factual_run(tmp_path, "pool", count=6, max_attempts=6)
    text = "".join(DOCS.values())
    written = [r.data for r in accepted] + [r.data for r in rejected if isinstance(r.data, dict) and r.data.get("evidence")]
    cited = {row["evidence"][0] for row in written}
    assert len(cited) >= 4, cited
    assert all(e in text for e in cited)
    for r in accepted:
        assert r.data["answer"].rstrip(".").lower() in r.data["evidence"][0].lower()


def test_document_form_writes_questions_its_evidence_answers(tmp_path: Path):
    """On the bundled model (a base model) factual slots take the document form by default: each accepted
    pair is a question (it ends with "?") naming a key term of its evidence, answered by a span of it."""
    from synthloom.generators.qa_answer_support import question_meets_evidence

    accepted, _ = _factual_run(tmp_path, "pool-document", count=3, max_attempts=5)
    assert accepted, "no pair accepted in five slots"
    for r in accepted:
        q, a, (e,) = r.data["question"], r.data["answer"], r.data["evidence"]
        assert r.meta["prompt_form"] == "document"
        assert q.endswith("?") and question_meets_evidence(q, [e]), q
        assert a.rstrip(".").lower() in e.lower() and e in "".join(DOCS.values()), (a, e)
