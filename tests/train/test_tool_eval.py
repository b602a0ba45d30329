"""`synthloom evaluate` on tool calls: BFCL-style AST match, argument precision/recall, no-call accuracy."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom.errors import UsageError
from synthloom.train.evaluate import evaluate, report_markdown
from synthloom.train.tool_eval import normalize_calls, score_calls


def call(name, **args):
    return {"name": name, "arguments": args}


def test_ast_match_and_argument_scores() -> None:
    expected = [[call("w", city="Rome")], [call("w", city="Paris"), call("w", city="Tokyo")],
                [call("c", value=3, unit="l")], [], []]
    predicted = [[call("w", city="rome ")],  # case and spaces do not matter
                 [call("w", city="Tokyo"), call("w", city="Paris")],  # parallel calls in any order
                 [call("c", value=3.0, unit="gal", extra=1)],  # one right, one wrong, one unexpected
                 [], [call("w", city="x")]]
    s = score_calls(expected, predicted)
    assert s["name_accuracy"] == 1.0
    assert s["exact"] == pytest.approx(2 / 3)
    assert s["arg_recall"] == pytest.approx(4 / 5)  # 1 + 2 + 1 of 1 + 2 + 2
    assert s["arg_precision"] == pytest.approx(4 / 6)
    assert s["no_call_accuracy"] == 0.5


def test_calls_read_from_openai_tool_calls_and_strings() -> None:
    oa = [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{\"city\": \"Rome\"}"}}]
    assert normalize_calls(oa, "x") == [call("w", city="Rome")]
    assert normalize_calls(json.dumps([call("w", city="Rome")]), "x") == [call("w", city="Rome")]
    with pytest.raises(UsageError, match="needs a `name`"):
        normalize_calls([{"arguments": {}}], "x")


def test_evaluate_a_predictions_file(tmp_path: Path) -> None:
    data = tmp_path / "real.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"request": "weather in Rome?", "calls": [call("w", city="Rome")]},
        {"request": "tell me a joke", "calls": []}]))
    preds = tmp_path / "pred.jsonl"
    preds.write_text("\n".join(json.dumps({"calls": c}) for c in [[call("w", city="Milan")], []]))
    report = evaluate(preds, data)
    assert report["name_accuracy"] == 1.0 and report["arg_recall"] == 0.0 and report["no_call_accuracy"] == 1.0
    md = report_markdown(report)
    assert "| 1.000 | 0.000 | 0.000 | 0.000 | 1.000 |" in md and "Milan" in md
    preds.write_text(json.dumps({"calls": []}))
    with pytest.raises(UsageError, match="1 predictions for 2 requests"):
        evaluate(preds, data)
