"""Does a labelled text fit its label better than any other? A judge-free check by sentence embeddings.

Each label is represented by the mean of the embeddings of its name (as words) with its
description, and of its examples when the label set has any; a text's nearest label is the
one whose representation has the highest cosine with the text. The check is on when the
label checker would otherwise be the bundled model itself (too small to tell 20 intents
apart): a text written for `A` whose nearest label is `B` is rejected (`relevant:nearest_label`)
or, with `action: relabel`, kept with label `B` (`meta.relabelled_from: A`), or with `action: flag`,
kept as it is with `meta.label_flagged` (the same actions as `verify.action`).

The margin is the text's cosine with its own label minus the best other label's (negative:
another label is nearer); it goes to `meta.scores.label_margin`, the nearest label to
`meta.scores.label_nearest`.
"""
from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import numpy as np

from ..records import Record, Rejection
from ..sources.labels import LabelSet
from .base import GateContext, StatelessGate
from .embeddings import make_embedder
from .text import field_value


def label_texts(label: Any) -> list[str]:
    """What represents a label: its name as words with its description, and its examples."""
    name = " ".join(label.name.replace("_", " ").replace("-", " ").split())
    return [f"{name}: {label.description}", *label.examples]


def label_matrix(label_set: LabelSet, embedder: Any) -> np.ndarray:
    """(labels, dims): the normalised mean embedding of each label's texts."""
    rows = []
    for lab in label_set.labels:
        v = embedder.embed(label_texts(lab)).mean(0)
        rows.append(v / (np.linalg.norm(v) or 1.0))
    return np.stack(rows)


class LabelFitGate(StatelessGate):
    """`relevant` for labelled text: the text's nearest label (by embeddings) is its own."""

    name = "label_fit"
    stage = "label"

    def __init__(self, label_set: LabelSet, *, text_field: str = "text", label_field: str = "label",
                 action: str = "reject", margin: float = 0.0, embedder: Any = None) -> None:
        self.label_set = label_set
        self.text_field, self.label_field = text_field, label_field
        self.action = action
        self.margin = margin
        self._embedder = embedder
        self._labels: np.ndarray | None = None
        self._lock = asyncio.Lock()

    def _matrix(self) -> np.ndarray:
        if self._labels is None:
            if self._embedder is None:
                self._embedder = make_embedder()
            self._labels = label_matrix(self.label_set, self._embedder)
        return self._labels

    def _sims(self, text: str) -> np.ndarray:
        labels = self._matrix()
        return labels @ self._embedder.embed([text])[0]

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        given = field_value(rec.data, self.label_field, "label_fit: label_field")
        if isinstance(given, list) or given is None:  # multi-label: one nearest label says little
            return rec
        own = self.label_set.canonical(given)
        if own is None:
            return rec
        async with self._lock:
            sims = await asyncio.to_thread(self._sims, str(rec.data.get(self.text_field, "")))
        names = self.label_set.names
        i = names.index(own)
        others = np.delete(sims, i)
        best_other = int(np.argmax(others))
        best_other += best_other >= i
        margin = float(sims[i] - sims[best_other])
        nearest = own if margin >= 0 else names[best_other]
        out = rec.with_scores(label_margin=round(margin, 4), label_nearest=nearest)
        if margin >= -self.margin:
            return out
        if self.action == "flag":
            return out.with_meta(label_flagged=True)
        if self.action == "relabel":
            meta = {"relabelled_from": own, "target_label": nearest}
            return replace(out.with_meta(**meta), data={**out.data, self.label_field: nearest})
        return Rejection.of(out, "label", "relevant:nearest_label",
                            f"written for {own!r}, but its nearest label is {nearest!r} "
                            f"(cosine {sims[best_other]:.2f} vs {sims[i]:.2f})")
