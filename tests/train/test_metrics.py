"""The metrics on constructed predictions whose scores are worked out by hand."""
from __future__ import annotations

import pytest

from synthloom.train.metrics import choose_metric, field_scores, label_scores, normalize_value, text_scores


def test_label_scores_by_hand():
    gold = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", None]
    s = label_scores(gold, pred)
    # a: tp 2, predicted 2, gold 3 -> P 1, R 2/3, F1 0.8
    # b: tp 1, predicted 2, gold 2 -> P .5, R .5, F1 .5
    # c: tp 0, predicted 1, gold 1 -> 0
    assert s["accuracy"] == pytest.approx(3 / 6)
    assert s["per_label"]["a"]["f1"] == pytest.approx(0.8)
    assert s["per_label"]["b"]["precision"] == pytest.approx(0.5)
    assert s["per_label"]["c"]["f1"] == 0.0
    assert s["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert s["no_answer"] == 1
    assert s["confusion"]["a"] == {"a": 2, "b": 1, "c": 0}
    assert s["confusion"]["c"] == {"a": 0, "b": 0, "c": 0}  # the unanswered one is in no column
    assert s["n"] == 6


def test_perfect_and_all_wrong():
    assert label_scores(["x", "y"], ["x", "y"])["macro_f1"] == 1.0
    s = label_scores(["x", "y"], ["y", "x"])
    assert s["accuracy"] == 0.0 and s["macro_f1"] == 0.0


@pytest.mark.parametrize("a,b", [
    ("$1,234.50", 1234.5), ("GBP 81.00", 81), ("66.00", 66.0), ("1.234,50 EUR", "1234.50"),
    ("March 5, 2024", "2024-03-05"), ("5 March 2024", "2024-03-05"), ("  ACME   Printing Ltd. ", "acme printing ltd"),
])
def test_values_normalize_alike(a, b):
    assert normalize_value(a) == normalize_value(b)


@pytest.mark.parametrize("a,b", [("AP-0093", "93"), ("2024-03-05", "2024-03-06"), ("12 apples", "12")])
def test_values_that_differ_stay_apart(a, b):
    assert normalize_value(a) != normalize_value(b)


def test_field_scores_by_hand():
    gold = [{"number": "A-1", "total": 81.0, "date": "2024-01-15"},
            {"number": "B-2", "total": 66, "date": "2024-05-20"}]
    pred = [{"number": "a-1", "total": "$81.00", "date": "January 15, 2024", "extra": "x"},  # 3 right, 1 invented
            "not json"]                                                                         # nothing predicted
    s = field_scores(gold, pred)
    # predicted fields 4, right 3 -> P .75; gold fields 6 -> R .5; F1 = 2*.75*.5/1.25 = .6
    assert s["precision"] == pytest.approx(0.75)
    assert s["recall"] == pytest.approx(0.5)
    assert s["f1"] == pytest.approx(0.6)
    assert s["exact"] == 0.0  # the first has an invented field, the second nothing
    assert s["parsed"] == 0.5
    assert s["per_field"]["total"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert s["per_field"]["extra"]["support"] == 0


def test_field_scores_exact_and_nested():
    gold = [{"a": {"b": 1}, "items": [{"x": "Y"}]}]
    assert field_scores(gold, [{"a": {"b": "1"}, "items": [{"x": "y"}]}])["exact"] == 1.0
    assert field_scores(gold, [{"a": {"b": 2}, "items": [{"x": "y"}]}])["f1"] == pytest.approx(0.5)


def test_text_scores():
    s = text_scores(["the cat sat", "a b"], ["the cat sat", None])
    assert s["rouge_l"] == pytest.approx(0.5)
    assert s["exact"] == pytest.approx(0.5)


def test_choose_metric():
    assert choose_metric(['{"a": 1}', '{"a": 2}']) == "fields"
    assert choose_metric(["refund", "shipping", "refund", "account", "shipping", "refund"]) == "labels"
    assert choose_metric(["A long free-text answer about a topic.", "Another answer, quite different."]) == "text"
