"""Does an answer answer its question? A judge-free check by sentence embeddings.

A RAG pair quotes its evidence from the passage it was written from. Among the passage's
sentences, the one that answers a question is, most of the time, the one whose meaning is
nearest the question. The check ranks the passage's sentences by cosine with the question
(MiniLM) and rejects a pair whose evidence (or, with no evidence, its answer) is beaten by
another sentence of the passage by more than `margin` (0.10), unless that sentence says about
what the evidence says (cosine with it of `same_point`, 0.70, or more): "How do you sign in to your Enterprise
account?" answered with "Enterprise customers can choose the region where their data is
stored." when the passage has a sentence on signing in (`relevant:answer_off_question`).

Unanswerable pairs are not checked (their answer is a refusal), nor passages of fewer than
`min_sentences` sentences (no other sentence to compare with). The question's cosine with its
evidence and with the best other sentence go to `meta.scores` (`answer_fit`, `answer_fit_other`).
"""
from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np

from ..records import Record, Rejection
from .base import GateContext, StatelessGate

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
MARGIN = 0.10
# a nearer sentence that says about what the evidence says (support by email and chat / email support on
# every plan) is a second answer, not a better one
SAME_POINT = 0.70
MIN_SENTENCES = 3


def sentences(text: str) -> list[str]:
    """A passage's sentences of 3+ words (a list item is one; a Markdown heading is none: it names a topic, so
    it is near every question on that topic without answering any)."""
    out = []
    for line in text.split("\n"):
        if line.lstrip().startswith("#"):
            continue
        for s in _SENTENCE_END.split(line):
            s = s.strip().lstrip("-*• ").strip()
            if len(s.split()) >= 3:
                out.append(s)
    return out


def _norm(s: str) -> str:
    return " ".join(re.findall(r"\w+", s.casefold()))


class AnswerFitGate(StatelessGate):
    """`relevant` for a RAG pair: its evidence is (about) the passage's sentence nearest the question."""

    name = "answer_fit"
    stage = "filter"

    def __init__(self, margin: float = MARGIN, same_point: float = SAME_POINT, min_sentences: int = MIN_SENTENCES,
                 embedder: Any = None) -> None:
        self.margin, self.same_point, self.min_sentences = margin, same_point, min_sentences
        self._embedder = embedder
        self._lock = asyncio.Lock()

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            from .embeddings import make_embedder

            self._embedder = make_embedder()
        return self._embedder.embed(texts)

    def measure(self, question: str, support: list[str],
                contexts: list[str]) -> tuple[float, float, str, float] | None:
        """(cosine of the question with its best support, with the best other sentence, that sentence, and that
        sentence's cosine with the support); None when the passage has too few sentences to compare with."""
        own = {_norm(s) for s in support}
        others = [s for c in contexts for s in sentences(c)
                  if _norm(s) not in own and not any(_norm(s) in o or o in _norm(s) for o in own)]
        if len(others) + len(support) < self.min_sentences or not others:
            return None
        vec = self._embed([question, *support, *others])
        q, sup, oth = vec[0], vec[1:1 + len(support)], vec[1 + len(support):]
        sims = oth @ q
        best = int(np.argmax(sims))
        return float(np.max(sup @ q)), float(sims[best]), others[best], float(np.max(sup @ oth[best]))

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        data = rec.data if isinstance(rec.data, dict) else {}
        if data.get("kind") == "unanswerable" or not data.get("question"):
            return rec
        support = [str(e) for e in data.get("evidence") or [] if str(e).strip()] or [str(data.get("answer", ""))]
        contexts = [str(c) for c in rec.meta.get("contexts") or []]
        if not contexts or not any(s.strip() for s in support):
            return rec
        async with self._lock:
            m = await asyncio.to_thread(self.measure, str(data["question"]), support, contexts)
        if m is None:
            return rec
        fit, other, sentence, same = m
        out = rec.with_scores(answer_fit=round(fit, 4), answer_fit_other=round(other, 4))
        if other - fit > self.margin and same < self.same_point:
            return Rejection.of(out, "filter", "relevant:answer_off_question",
                                f"another sentence of the passage is nearer the question (cosine {other:.2f} vs "
                                f"{fit:.2f} for the evidence): {sentence[:100]!r}")
        return out
