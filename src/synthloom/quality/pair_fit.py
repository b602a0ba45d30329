"""Does a question fit its answer? Pointwise mutual information under the bundled model, no judge.

A question that its answer answers is likelier after that answer than on its own: the answer "calls for"
it. The signal is

    PMI = mean NLL(question | "Question:") - mean NLL(question | "Answer: <answer>\nQuestion:")

in nats per token of the question, read from the bundled model by evaluation
(`FluencyScorer.conditional_nlls`, many pairs per llama.cpp call, no decoding). A question on the
passage's topic that the answer does not answer (a question on one point of a passage, paired with the
passage's sentence on another point) gains little from it.

`relevant:answer_unlikely` (qa): the PMI is below `MIN_QUESTION_PMI`; unanswerable pairs (a fixed refusal)
are not checked. The score goes to `meta.scores.question_pmi`. The threshold was set on qa records of the
bundled model's own runs, read and labelled by hand (benchmarks/pair_fit.py, docs/benchmarks_junk.md),
where the other signals measured (the answer after its question vs a question of no content, the
question's own perplexity, its PMI with the passage; for Self-Instruct the output after its instruction
vs other tasks' instructions) did not separate good records from bad and are not shipped; their
functions stay here for the benchmark. The gate collects the pairs of the checks waiting at the same time
into one scoring call.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .batching import LoopBatcher

NEUTRAL_QUESTION = "What does it say?"
NEUTRAL_INSTRUCTION = "Respond."
OTHER_TASKS = 3
MIN_QUESTION_PMI = 0.45  # set on the labelled set (benchmarks/pair_fit.py)


def qa_context(question: str) -> str:
    return f"Question: {question}\nAnswer:"


def task_context(instruction: str, input_text: str = "") -> str:
    body = f"Instruction: {instruction}\n"
    if input_text.strip():
        body += f"Input: {input_text}\n"
    return body + "Output:"


def _mean(nll: Sequence[float]) -> float:
    return float(np.mean(nll)) if len(nll) else float("nan")


def pmi_many(scorer: Any, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[float]:
    """For each (text, own context, other contexts): mean over the others of mean NLL(text | other) minus mean
    NLL(text | own), all pairs in one `conditional_nlls` call. NaN for an empty text."""
    pairs: list[tuple[str, str]] = []
    spans: list[tuple[int, int]] = []
    for text, own, others in items:
        start = len(pairs)
        if text.strip():
            pairs.append((own, text))
            pairs.extend((o, text) for o in others)
        spans.append((start, len(pairs)))
    nlls = scorer.conditional_nlls(pairs) if pairs else []
    out = []
    for start, end in spans:
        if end - start < 2:
            out.append(float("nan"))
            continue
        own_nll = _mean(nlls[start])
        out.append(float(np.mean([_mean(n) for n in nlls[start + 1:end]])) - own_nll)
    return out


def answer_pmi(scorer: Any, questions: Sequence[str], answers: Sequence[str]) -> list[float]:
    """The answer after its question vs after a question of no content (nats per token; measured, not shipped)."""
    return pmi_many(scorer, [(" " + a, qa_context(q), [qa_context(NEUTRAL_QUESTION)])
                             for q, a in zip(questions, answers)])


def question_pmi(scorer: Any, questions: Sequence[str], answers: Sequence[str]) -> list[float]:
    """The question after its answer vs on its own (nats per token): how much the answer calls for it."""
    return pmi_many(scorer, [(" " + q, f"Answer: {a}\nQuestion:", ["Question:"]) for q, a in zip(questions, answers)])


def other_instructions(instruction: str, pool: Sequence[str], k: int = OTHER_TASKS) -> list[str]:
    """`k` instructions of `pool` other than this one, chosen by a hash of it (the same on every run)."""
    others = [p for p in pool if p.strip() and p.strip() != instruction.strip()]
    if len(others) <= k:
        return others
    h = int.from_bytes(hashlib.sha256(instruction.encode("utf-8")).digest()[:8], "big")
    start = h % len(others)
    return [others[(start + i * (len(others) // k)) % len(others)] for i in range(k)]


def output_pmi(scorer: Any, instructions: Sequence[str], inputs: Sequence[str], outputs: Sequence[str],
               pool: Sequence[str]) -> list[float]:
    """The output after its instruction and input vs after other tasks' instructions with the same input."""
    return pmi_many(scorer, [(" " + o, task_context(i, x), [task_context(other, x) for other in other_instructions(i, pool)])
                             for i, x, o in zip(instructions, inputs, outputs)])


class PairFitGate(StatelessGate):
    """`relevant` for a RAG pair: reject a question its answer makes no likelier (`relevant:answer_unlikely`)."""

    name = "pair_fit"
    stage = "filter"

    def __init__(self, min_pmi: float = MIN_QUESTION_PMI, scorer: Any = None, model_path: str | None = None) -> None:
        self.min_pmi = min_pmi
        self.model_path = model_path
        self._scorer = scorer
        self._batcher: LoopBatcher[dict[str, Any], float] = LoopBatcher()

    def __getstate__(self) -> dict[str, Any]:  # a copy (a Ray worker's) opens its own scorer
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._scorer = None

    def scorer(self) -> Any:
        if self._scorer is None:
            from .fluency import fluency_scorer

            self._scorer = fluency_scorer(self.model_path)
        return self._scorer

    def measure(self, rows: Sequence[dict[str, Any]]) -> list[float]:
        """The question PMI of each qa row, in one scoring call."""
        return question_pmi(self.scorer(), [str(r.get("question", "")) for r in rows],
                            [str(r.get("answer", "")) for r in rows])

    async def _score(self, row: dict[str, Any]) -> float:
        return await self._batcher.run(row, self.measure)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        data = rec.data if isinstance(rec.data, dict) else {}
        if data.get("kind") == "unanswerable" or not str(data.get("answer", "")).strip() \
                or not str(data.get("question", "")).strip():
            return rec
        pmi = await self._score(data)
        if pmi != pmi:  # NaN: nothing to compare
            return rec
        out = rec.with_scores(question_pmi=round(pmi, 3))
        if pmi < self.min_pmi:
            return Rejection.of(out, "filter", "relevant:answer_unlikely",
                                f"the question is hardly likelier after its answer than on its own (PMI {pmi:.2f} "
                                f"nats/token < {self.min_pmi:g}): the answer does not call for it")
        return out
