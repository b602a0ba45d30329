"""The classifier student: MiniLM sentence embeddings + a logistic-regression head.

Training needs scikit-learn (`synthloom[train]`); a saved student is a folder that loads and predicts
with numpy alone (the head is stored as plain weights, not a pickle):

    student.json   kind, labels, fields, embedder, hyperparameters, training figures
    head.npz       coef (labels x dims), intercept (labels)
    test.jsonl     the held-out split (when training split the data)
    README.md      the card
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import MissingDependencyError, UsageError

KIND = "classifier"
C_GRID = (0.25, 1.0, 4.0, 16.0, 64.0)  # inverse regularisation strengths tried by cross-validation
CV_FOLDS = 5


def choose_c(x: np.ndarray, labels: Sequence[str], grid: Sequence[float] = C_GRID, class_weight: str | None = "balanced",
             folds: int = CV_FOLDS, seed: int = 0) -> tuple[float, dict[str, float], int]:
    """(best C, mean macro-F1 per C, folds used): stratified k-fold on the training rows only.

    Folds are capped by the rarest label's count; with fewer than two rows per label there is nothing to
    cross-validate and C = 1 (scikit-learn's default) is used. The one-standard-error rule picks the C: the
    smallest (most regularised) whose mean is within one standard error of the best mean, since on a few
    rows per label the differences between C values are mostly noise, and generated labels are noisy.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    k = min(folds, min(Counter(labels).values()))
    if k < 2:
        return 1.0, {}, 0
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    scores: dict[str, float] = {}
    spread: dict[float, float] = {}
    for c in grid:
        f1s = []
        for tr, te in cv.split(x, y):
            head = LogisticRegression(C=c, class_weight=class_weight, max_iter=2000, random_state=seed)
            head.fit(x[tr], y[tr])
            f1s.append(f1_score(y[te], head.predict(x[te]), average="macro"))
        scores[f"{c:g}"] = round(float(np.mean(f1s)), 4)
        spread[c] = float(np.std(f1s, ddof=1) / np.sqrt(len(f1s)))
    best = max(grid, key=lambda c: (scores[f"{c:g}"], -c))
    floor = scores[f"{best:g}"] - spread[best]
    return float(min(c for c in grid if scores[f"{c:g}"] >= floor)), scores, k


def _embedder(path: str | None = None):
    from ..config.quality import EmbeddingConfig
    from ..quality.embeddings import make_embedder

    return make_embedder(EmbeddingConfig(provider="minilm", path=path))


@dataclass
class ClassifierStudent:
    labels: list[str]
    coef: np.ndarray        # (n_labels, dims); binary heads are stored as two rows
    intercept: np.ndarray   # (n_labels,)
    text_field: str = "text"
    label_field: str = "label"
    embedder_path: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    kind: str = KIND

    # ------------------------------------------------------------ train
    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], *, c: float | None = None,
            class_weight: str | None = "balanced",
            embedder_path: str | None = None, text_field: str = "text", label_field: str = "label",
            seed: int = 0) -> "ClassifierStudent":
        try:
            from sklearn.linear_model import LogisticRegression
        except ImportError as exc:
            raise MissingDependencyError("scikit-learn", "train", "training a classifier student") from exc
        if len(set(labels)) < 2:
            raise UsageError(f"a classifier needs at least two labels; the data has only {sorted(set(labels))}")
        t0 = time.perf_counter()
        x = _embedder(embedder_path).embed(list(texts))
        t_embed = time.perf_counter() - t0
        cv_info: dict[str, Any] = {}
        if c is None:  # regularisation chosen on the training rows, never on the held-out split
            c, cv_scores, k = choose_c(x, list(labels), class_weight=class_weight, seed=seed)
            cv_info = {"cv_folds": k, "cv_macro_f1_by_C": cv_scores}
        head = LogisticRegression(C=c, class_weight=class_weight, max_iter=2000, random_state=seed)
        head.fit(x, list(labels))
        coef, intercept = head.coef_.astype(np.float32), head.intercept_.astype(np.float32)
        if coef.shape[0] == 1:  # binary: p(class 1) = sigmoid(w.x + b) == softmax over (0, w.x + b)
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([np.zeros(1, np.float32), intercept])
        info = {"hyperparameters": {"C": c, "class_weight": class_weight, "max_iter": 2000, "seed": seed, **cv_info},
                "train_n": len(texts), "train_label_counts": dict(Counter(labels)),
                "embed_s": round(t_embed, 3), "fit_s": round(time.perf_counter() - t0 - t_embed, 3)}
        return cls([str(c_) for c_ in head.classes_], coef, intercept, text_field, label_field, embedder_path, info)

    # ------------------------------------------------------------ predict
    def scores(self, texts: Sequence[str]) -> np.ndarray:
        x = _embedder(self.embedder_path).embed(list(texts))
        logits = x @ self.coef.T + self.intercept
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [self.labels[i] for i in self.scores(texts).argmax(1)]

    # ------------------------------------------------------------ folder
    def save(self, out: str | Path, card: str | None = None) -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "head.npz", coef=self.coef, intercept=self.intercept)
        meta = {"kind": self.kind, "labels": self.labels, "text_field": self.text_field,
                "label_field": self.label_field, "embedder": {"provider": "minilm", "path": self.embedder_path},
                **self.info}
        tmp = out / "student.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(out / "student.json")
        if card:
            (out / "README.md").write_text(card, encoding="utf-8")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> "ClassifierStudent":
        folder = Path(folder)
        meta = json.loads((folder / "student.json").read_text(encoding="utf-8"))
        if meta.get("kind") != KIND:
            raise UsageError(f"{folder}: not a classifier student (kind {meta.get('kind')!r})")
        with np.load(folder / "head.npz") as z:
            coef, intercept = z["coef"], z["intercept"]
        info = {k: v for k, v in meta.items() if k not in ("kind", "labels", "text_field", "label_field", "embedder")}
        return cls(list(meta["labels"]), coef, intercept, meta.get("text_field", "text"), meta.get("label_field", "label"),
                   (meta.get("embedder") or {}).get("path"), info)


def zero_shot_predict(texts: Sequence[str], labels: Sequence[str], embedder_path: str | None = None) -> list[str]:
    """The untrained student: each text gets the label whose name embeds nearest (underscores read as spaces)."""
    emb = _embedder(embedder_path)
    names = emb.embed([lab.replace("_", " ").replace("-", " ") for lab in labels])
    x = emb.embed(list(texts))
    return [labels[i] for i in (x @ names.T).argmax(1)] if len(texts) else []
