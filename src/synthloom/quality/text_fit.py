"""Does a labelled text fit its label's description better than the nearest other label's? PMI under the bundled model.

With the bundled model's per-token negative log-likelihoods (`FluencyScorer.conditional_nlls`: only the
text's tokens are scored, the context is read), a text is scored after its own label's description and
after the description of the other label nearest it in MiniLM space:

    label_pmi = mean NLL(text | "Task: <task>.\n<other description>\nText: ")
              - mean NLL(text | "Task: <task>.\n<own description>\nText: ")

in nats per token: positive when its own description makes the text more likely. Only what the user wrote
shapes the contexts (the label set's `task` line and descriptions); the rest are fixed, domain-free words.

`LabelPmiGate` (the `pmi` check, off by default) rejects a text whose `label_pmi` is under `min_pmi`
(`pmi:off_label`) and writes it to `meta.scores.label_pmi`. Measured on hand-labelled records of two label
sets and on real test messages (benchmarks/text_fit.py, docs/benchmarks_junk.md): it separates the
records a reader accepts from the rest (ROC AUC 0.75) better than the task line's PMI (0.59) or the MiniLM
margin (0.65), but at 0 it would also reject 15% of real messages, hence off by default.
Texts of the checks that run at the same time are scored in one batch. The classification technique's
`best_of` ranks a slot's candidates by the same score (`LabelPmiGate.score`), with no threshold.
"""
from __future__ import annotations

import asyncio
from typing import Any, Sequence

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .batching import LoopBatcher
from .pair_fit import pmi_many as pair_pmi_many

NEUTRAL = "Task: a text.\nText: "
MIN_PMI = 0.0  # benchmarks/text_fit.py: at 0, 13 of the 14 accepted records it drops read as bad


def task_context(task: str | None, description: str = "") -> str:
    head = f"Task: {task.strip().rstrip('.')}.\n" if task else ""
    return f"{head}{description.strip()}\nText: " if description else f"{head}Text: "


def pmi_many(scorer: Any, items: Sequence[tuple[str, str, str]]) -> list[float]:
    """For each (text, own context, other context): mean nll after other - mean nll after own, one batch
    (`pair_fit.pmi_many` with one other context)."""
    return pair_pmi_many(scorer, [(text, own, [other]) for text, own, other in items])


class LabelPmiGate(StatelessGate):
    """`pmi:off_label`: the text is no more likely after its label's description than after the nearest other's."""

    name = "label_pmi"
    stage = "label"

    def __init__(self, label_set: Any, task: str | None = None, text_field: str = "text", label_field: str = "label",
                 min_pmi: float = MIN_PMI, scorer: Any = None, embedder: Any = None,
                 model_path: str | None = None) -> None:
        self.label_set = label_set
        self.task = task if task is not None else getattr(label_set, "task", None)
        self.text_field, self.label_field = text_field, label_field
        self.min_pmi = min_pmi
        self._scorer = scorer
        self._embedder = embedder
        self._labels: Any = None
        self.model_path = model_path
        self._batcher: LoopBatcher[tuple[str, str, str], float] = LoopBatcher()

    def __getstate__(self) -> dict[str, Any]:  # a copy (a Ray worker's) opens its own models
        return {k: v for k, v in self.__dict__.items() if k not in ("_scorer", "_embedder", "_labels")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._scorer = self._embedder = self._labels = None

    def _get_scorer(self) -> Any:
        if self._scorer is None:
            from .fluency import fluency_scorer

            self._scorer = fluency_scorer(self.model_path)
        return self._scorer

    def nearest_other(self, text: str, own: str) -> str:
        """The other label nearest the text in MiniLM space (label_fit's representation of each label)."""
        import numpy as np

        from .label_fit import label_matrix

        if self._labels is None:
            if self._embedder is None:
                from .embeddings import make_embedder

                self._embedder = make_embedder()
            self._labels = label_matrix(self.label_set, self._embedder)
        sims = self._labels @ self._embedder.embed([text])[0]
        names = self.label_set.names
        sims[names.index(own)] = -np.inf
        return names[int(np.argmax(sims))]

    async def _pmi(self, text: tuple[str, str, str]) -> float:
        return await self._batcher.run(text, self._pmi_many)

    def _pmi_many(self, items: list[tuple[str, str, str]]) -> list[float]:
        return pmi_many(self._get_scorer(), items)

    async def score(self, text: str, own: str) -> tuple[float, str]:
        """(label PMI of the text for label `own`, the nearest other label it was measured against); the texts
        scored at the same time go in one batch (NaN: nothing scored)."""
        other = await asyncio.to_thread(self.nearest_other, text, own)
        contexts = (task_context(self.task, self.label_set.get(own).description),
                    task_context(self.task, self.label_set.get(other).description))
        return await self._pmi((text, *contexts)), other

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        data = rec.data if isinstance(rec.data, dict) else {}
        text = str(data.get(self.text_field, "")).strip()
        given = data.get(self.label_field)
        own = None if isinstance(given, list) or given is None else self.label_set.canonical(given)
        if not text or own is None:  # multi-label, or no label of the set: nothing to compare
            return rec
        pmi, other = await self.score(text, own)
        if pmi != pmi:  # nothing scored
            return rec
        rec = rec.with_scores(label_pmi=round(pmi, 3))
        if pmi < self.min_pmi:
            return Rejection.of(rec, self.stage, "pmi:off_label",
                                f"written for {own!r}, but the description of {other!r} makes it as likely or more "
                                f"(PMI {pmi:+.2f} nats/token < {self.min_pmi:+.2f}): {text[:80]!r}")
        return rec
