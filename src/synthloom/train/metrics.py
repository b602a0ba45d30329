"""Scores for a student's predictions: labels, JSON extractions, free text.

    label_scores(gold, pred)       accuracy, macro-F1, per-label precision/recall/F1, confusion table
    field_scores(gold, pred)       field-level precision/recall/F1 over JSON objects, values normalized
    text_scores(gold, pred)        mean ROUGE-L F
    choose_metric(values)          which of the three fits the gold values

Plain Python, no numpy or scikit-learn: the numbers are checked by hand in the tests.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Mapping, Sequence

from ..quality.rouge import rouge_l
from ..quality.text import dates_in, parse_number

METRICS = ("labels", "fields", "text")
_AMOUNT = re.compile(r"(?:[$\u20ac\u00a3\u00a5]|[a-z]{3} )?\s*([+\-]?\d[\d.,' ]*)\s*(?:[$\u20ac\u00a3\u00a5]| ?[a-z]{3})?")


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def label_scores(gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over the labels in gold or pred), per-label figures and the confusion table.

    A prediction that is None (no answer) counts as wrong and as no label.
    """
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    gold = [str(g) for g in gold]
    pred = [None if p is None else str(p) for p in pred]
    labels = sorted(set(gold) | {p for p in pred if p is not None})
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, pred):
        if p is not None:
            confusion[g][p] += 1
    per_label = {}
    for lab in labels:
        tp = confusion[lab][lab]
        n_pred = sum(confusion[g][lab] for g in labels)
        n_gold = sum(1 for g in gold if g == lab)
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        per_label[lab] = {"precision": p, "recall": r, "f1": _f1(p, r), "support": n_gold}
    n = len(gold)
    return {
        "metric": "labels",
        "n": n,
        "accuracy": sum(g == p for g, p in zip(gold, pred)) / n if n else 0.0,
        "macro_f1": sum(v["f1"] for v in per_label.values()) / len(labels) if labels else 0.0,
        "no_answer": sum(p is None for p in pred),
        "per_label": per_label,
        "confusion": confusion,
    }




def normalize_value(value: Any) -> str:
    """One canonical string per value: numbers (1,234.50 / "$66" / 66.0), ISO dates, case and spacing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"{float(value):g}" if abs(value) < 1e15 else str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False).lower()
    text = " ".join(str(value).split()).lower()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    if re.search(r"\d", text) and re.search(r"[a-z]{3}|[/.-]", text):
        found = dates_in(str(value))
        if len(found) == 1:
            return next(iter(found)).isoformat()
    m = _AMOUNT.fullmatch(text)  # a number, maybe with a currency sign or code around it
    if m:
        num = parse_number(m.group(1))
        if num is not None:
            return f"{num:g}"
    return text.strip(" .,;:")


def _flatten(obj: Any, where: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{where}.{k}" if where else str(k)))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{where}[{i}]"))
        return out
    return {where: obj} if obj not in (None, "") else {}


def field_scores(gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, Any]:
    """Field-level scores over JSON objects (nested fields by path): a predicted field is right when its
    normalized value equals the gold one. Precision = right / predicted fields, recall = right / gold
    fields, micro over all fields and per field. `exact` = share of objects with every field right;
    a prediction that is not an object (unparsable) predicts no field."""
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    exact = parsed = 0
    for g, p in zip(gold, pred):
        gf = {k: normalize_value(v) for k, v in _flatten(g).items()}
        pf = {k: normalize_value(v) for k, v in _flatten(p).items()} if isinstance(p, Mapping) else {}
        parsed += isinstance(p, Mapping)
        for k in gf:
            n_gold[k] += 1
        for k, v in pf.items():
            n_pred[k] += 1
            if k in gf and gf[k] == v:
                tp[k] += 1
        exact += bool(gf) and all(pf.get(k) == v for k, v in gf.items()) and set(pf) <= set(gf)
    per_field = {}
    for k in sorted(set(n_gold) | set(n_pred)):
        p = tp[k] / n_pred[k] if n_pred[k] else 0.0
        r = tp[k] / n_gold[k] if n_gold[k] else 0.0
        per_field[k] = {"precision": p, "recall": r, "f1": _f1(p, r), "support": n_gold[k]}
    T, P, G = sum(tp.values()), sum(n_pred.values()), sum(n_gold.values())
    prec, rec = (T / P if P else 0.0), (T / G if G else 0.0)
    n = len(gold)
    return {"metric": "fields", "n": n, "precision": prec, "recall": rec, "f1": _f1(prec, rec),
            "exact": exact / n if n else 0.0, "parsed": parsed / n if n else 0.0, "per_field": per_field}


def text_scores(gold: Sequence[str], pred: Sequence[str | None]) -> dict[str, Any]:
    """Mean ROUGE-L F of each prediction against its reference (no prediction scores 0)."""
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    scores = [rouge_l(str(g), p) if p else 0.0 for g, p in zip(gold, pred)]
    n = len(scores)
    return {"metric": "text", "n": n, "rouge_l": sum(scores) / n if n else 0.0,
            "exact": sum(normalize_value(g) == normalize_value(p) for g, p in zip(gold, pred) if p) / n if n else 0.0}


def _as_object(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def choose_metric(gold: Sequence[Any]) -> str:
    """`fields` when the gold values are JSON objects, `labels` when they are short and repeat, else `text`."""
    values = [_as_object(g) for g in gold]
    if values and all(isinstance(v, Mapping) for v in values):
        return "fields"
    texts = [str(v) for v in values]
    distinct = set(texts)
    if texts and all(len(t.split()) <= 4 for t in distinct) and len(distinct) <= max(2, len(texts) // 2):
        return "labels"
    return "text"


def score(metric: str, gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, Any]:
    if metric == "labels":
        return label_scores(gold, pred)
    if metric == "fields":
        return field_scores([_as_object(g) for g in gold], [_as_object(p) for p in pred])
    if metric == "text":
        return text_scores([str(g) for g in gold], [None if p is None else str(p) for p in pred])
    raise ValueError(f"unknown metric {metric!r}")


def headline(scores: Mapping[str, Any]) -> tuple[str, float]:
    """The one number a table shows: accuracy, field F1 or ROUGE-L."""
    m = scores.get("metric")
    if m == "labels":
        return "accuracy", scores["accuracy"]
    if m == "fields":
        return "field F1", scores["f1"]
    return "ROUGE-L", scores.get("rouge_l", 0.0)


def comparison_row(scores: Mapping[str, Any]) -> dict[str, Any]:
    """The scores a comparison table shows for one model (a student, a baseline), in the table's order."""
    keep = ("n", "accuracy", "macro_f1", "precision", "recall", "f1", "exact", "parsed", "rouge_l",
            "tokens_per_s", "prompt_tokens_per_example", "completion_tokens_per_example", "seconds")
    return {k: scores[k] for k in keep if k in scores}


__all__ = ["METRICS", "choose_metric", "comparison_row", "field_scores", "headline", "label_scores",
           "normalize_value", "score", "text_scores"]
