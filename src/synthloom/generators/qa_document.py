"""The document form of a factual qa request: a reading-check sheet a base model continues.

A base model (the bundled Gemma 3 270M) writes a question its evidence answers far more often when it
continues a plain sheet of "Sentence: ... / Question: ... / Answer: ..." entries than when it answers
Input/Output turns with JSON (docs/benchmarks_junk.md). Two raw calls per draw:

1. the sheet's worked entries, then ``Sentence: <evidence>`` and an open ``Question:``; the model writes
   " <question>" and stops at the line's end (no JSON grammar; the prompt ends on ":", no space, so the
   model writes its own space, as in the examples);
2. the same sheet with that question and an open ``Answer:``, the answer constrained to the evidence's
   spans (a JSON string ``enum``: verbatim by construction), greedy.

The sheet carries no persona or phrasing line: a base model copies such instructions into its text.
Plain functions of text; ``qa.py`` builds the requests.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from ..quality.text import loose

SHEET_HEAD = "Reading check: for each sentence, a question that the sentence answers."
# measured on the bundled model: at 0.8 the questions drift off their sentence, at 0.3 most ask what it says
DOCUMENT_TEMPERATURE = 0.3
QUESTION_MAX_TOKENS = 60


def document_examples(examples: Mapping[str, Any]) -> list[dict[str, str]]:
    """The worked entries of the sheet (``document`` in qa_examples.json); the package's when a user's
    file has none."""
    rows = examples.get("document")
    if not rows:
        from ..quality.support import PROMPTS_DIR

        rows = json.loads((PROMPTS_DIR / "qa_examples.json").read_text()).get("document", [])
    return [{"sentence": " ".join(str(r["sentence"]).split()), "question": str(r["question"]).strip(),
             "answer": str(r["answer"]).strip()} for r in rows]


def _entry(sentence: str, question: str | None = None, answer: str | None = None) -> str:
    text = f"Sentence: {' '.join(sentence.split())}\nQuestion:"
    if question is None:
        return text
    text += f" {question}\nAnswer:"
    return text if answer is None else f"{text} {answer}"


def question_prompt(examples: Sequence[Mapping[str, str]], evidence: str,
                    leave_out: frozenset[str] = frozenset()) -> str:
    """The sheet up to the open question of ``evidence``; worked entries whose question is in ``leave_out``
    (loose form) are left out."""
    entries = [_entry(e["sentence"], e["question"], e["answer"]) for e in examples
               if loose(e["question"]) not in leave_out]
    return "\n\n".join([SHEET_HEAD, *entries, _entry(evidence)])


def answer_prompt(examples: Sequence[Mapping[str, str]], evidence: str, question: str,
                  leave_out: frozenset[str] = frozenset()) -> str:
    """The sheet with the model's question and an open answer line."""
    return question_prompt(examples, evidence, leave_out) + f" {question}\nAnswer:"


def sheet_hash(examples: Sequence[Mapping[str, str]]) -> str:
    """What the manifest records as the document form's template hash: the head and the worked entries."""
    text = question_prompt(examples, "")
    return hashlib.sha256(text.encode()).hexdigest()[:12]
