"""`evaluate` on tool calls: requests with expected calls, scored as the Berkeley Function-Calling Leaderboard
scores them (an AST match: same function, each argument's value equal after normalising, no missing required
and no unexpected argument), next to "no call" accuracy on requests that need none.

Predictions come from a JSONL file (one row per request, in the data's order, each with `calls`), or from a
`technique: tools` recipe: its model writes the calls for each request, few-shot from the recipe's examples,
decoded under the tools' parameter schemas (what a model trained on the recipe's data is asked to do).

Calls are read as [{name, arguments}] (arguments an object or a JSON string), or OpenAI `tool_calls`.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .data import read_rows

CALL_FIELDS = ("calls", "expected_calls", "tool_calls", "ground_truth")


def normalize_calls(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise UsageError(f"{where}: calls are not JSON: {value[:80]!r}") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise UsageError(f"{where}: calls must be a list of {{name, arguments}}")
    out = []
    for c in value:
        fn = c.get("function", c) if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise UsageError(f"{where}: a call needs a `name` (got {c!r:.80})")
        args = fn.get("arguments") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                args = {"(unparsable)": args}
        out.append({"name": fn["name"], "arguments": args if isinstance(args, dict) else {"(value)": args}})
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.lower().split()) == " ".join(b.lower().split())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def _pair(expected: list[dict[str, Any]], predicted: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """Expected and predicted calls of the same function, paired by the most agreeing arguments."""
    left = list(predicted)
    pairs = []
    for e in expected:
        same = [p for p in left if p["name"] == e["name"]]
        if not same:
            continue
        best = max(same, key=lambda p: sum(k in p["arguments"] and _same(v, p["arguments"][k])
                                           for k, v in e["arguments"].items()))
        left.remove(best)
        pairs.append((e, best))
    return pairs


def score_calls(expected_rows: list[list[dict]], predicted_rows: list[list[dict]]) -> dict[str, Any]:
    n_call = n_none = name_ok = exact = none_ok = 0
    correct_args = predicted_args = expected_args = 0
    for exp, pred in zip(expected_rows, predicted_rows):
        if not exp:
            n_none += 1
            none_ok += not pred
            continue
        n_call += 1
        name_ok += sorted(c["name"] for c in exp) == sorted(c["name"] for c in pred)
        pairs = _pair(exp, pred)
        ok = [sum(k in p["arguments"] and _same(v, p["arguments"][k]) for k, v in e["arguments"].items())
              for e, p in pairs]
        correct_args += sum(ok)
        expected_args += sum(len(c["arguments"]) for c in exp)
        predicted_args += sum(len(c["arguments"]) for c in pred)
        exact += (len(pairs) == len(exp) == len(pred)
                  and all(_same(e["arguments"], p["arguments"]) for e, p in pairs))
    return {"metric": "tool_calls", "n": len(expected_rows), "n_with_calls": n_call, "n_no_call": n_none,
            "name_accuracy": name_ok / n_call if n_call else None,
            "exact": exact / n_call if n_call else None,
            "arg_precision": correct_args / predicted_args if predicted_args else (1.0 if not expected_args else 0.0),
            "arg_recall": correct_args / expected_args if expected_args else None,
            "no_call_accuracy": none_ok / n_none if n_none else None}


def predict_with_recipe(recipe_path: Path, requests: list[str]) -> tuple[list[list[dict]], str]:
    """Each request's calls as a tools recipe's model writes them (few-shot, constrained); and the model's id.
    At most as many calls as the recipe's examples make in one turn (2 when none makes more): a small model
    otherwise fills every slot the schema allows."""
    from ..engine.recipe_file import load_recipe
    from ..generators import build_generator
    from ..generators.tools import calls_schema
    from ..llm.factory import build_llm

    recipe = load_recipe(recipe_path, {})
    if recipe.generate.technique != "tools":
        raise UsageError(f"{recipe_path}: evaluate scores tool calls with a `technique: tools` recipe "
                         f"(this one is {recipe.generate.technique})")
    gen = build_generator(recipe.generate, recipe_path.parent)
    max_calls = max([2, *(len(e.calls) for e in recipe.generate.examples if e.kind() != "multi_step")])
    schema = calls_schema(gen.specs, 0, max_calls)

    async def go() -> tuple[list[list[dict]], str]:
        llm = build_llm(recipe.models())
        try:
            shown = await gen.examples()
            shots = [(e["request"], json.dumps({"calls": [{"name": c["name"], "arguments": c["arguments"]}
                                                          for c in e["calls"]]}, ensure_ascii=False)) for e in shown]
            reqs = [gen._req(gen.call_system, shots, r, schema, 0, recipe.generate.call_sampling.model_copy(
                update={"temperature": 0.0}), "calls") for r in requests]
            results = await llm.generate(reqs)
            out = [normalize_calls((r.parsed or {}).get("calls") if isinstance(r.parsed, dict) else [], "model")
                   for r in results]
            return out, llm.identity
        finally:
            gen.runner.close()
            await llm.aclose()

    return asyncio.run(go())


def tool_eval(model: Path, data: Path) -> dict[str, Any]:
    rows = read_rows(data)
    if not rows:
        raise UsageError(f"{data}: no requests to evaluate")
    field = next((f for f in CALL_FIELDS if f in rows[0]), None)
    if field is None or "request" not in rows[0]:
        raise UsageError(f"{data}: each row needs `request` and the expected `calls` ([] when no tool fits)")
    expected = [normalize_calls(r.get(field), f"{data}: line {i + 1}") for i, r in enumerate(rows)]
    requests = [str(r["request"]) for r in rows]
    if model.suffix.lower() in (".yaml", ".yml"):
        predicted, who = predict_with_recipe(model, requests)
        source = f"{who} (the calls step of {model})"
    else:
        preds = read_rows(model)
        if len(preds) != len(rows):
            raise UsageError(f"{model}: {len(preds)} predictions for {len(rows)} requests in {data}; give one row "
                             "per request, in the same order")
        pfield = next((f for f in CALL_FIELDS if f in preds[0]), "calls")
        predicted = [normalize_calls(p.get(pfield), f"{model}: line {i + 1}") for i, p in enumerate(preds)]
        source = str(model)
    report = score_calls(expected, predicted)
    report["predictions_from"] = source
    report["examples"] = [{"request": q, "expected": e, "predicted": p}
                          for q, e, p in list(zip(requests, expected, predicted))[:50]]
    return report


def tool_markdown(report: dict[str, Any]) -> str:
    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}"

    src = report["data"]
    lines = [f"# Tool-call evaluation of `{report['model']}`", "",
             f"- data: `{src['path']}` ({report['n']} requests: {report['n_with_calls']} with calls, "
             f"{report['n_no_call']} that need none)", f"- predictions: {report['predictions_from']}", "",
             "| function names | exact calls (AST) | argument precision | argument recall | no-call accuracy |",
             "|---:|---:|---:|---:|---:|",
             f"| {f(report['name_accuracy'])} | {f(report['exact'])} | {f(report['arg_precision'])} | "
             f"{f(report['arg_recall'])} | {f(report['no_call_accuracy'])} |", ""]
    wrong = [e for e in report["examples"] if not _all_same(e["expected"], e["predicted"])][:5]
    if wrong:
        lines += ["Misses (first 5):", ""]
        lines += [f"- {e['request']!r}: expected {json.dumps(e['expected'])}, got {json.dumps(e['predicted'])}"
                  for e in wrong]
        lines.append("")
    return "\n".join(lines)


def _all_same(exp: list[dict], pred: list[dict]) -> bool:
    return len(exp) == len(pred) and len(_pair(exp, pred)) == len(exp) and \
        all(_same(e["arguments"], p["arguments"]) for e, p in _pair(exp, pred))
