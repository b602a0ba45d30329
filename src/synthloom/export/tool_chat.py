"""Function-calling records (`technique: tools`) in the shapes fine-tuning stacks read.

A record holds `request`, `calls` ([{name, arguments, result | error, step}]), `answer` and `tools` (OpenAI
`tools` entries). The calls of one step are one assistant turn (parallel calls side by side), each followed
by its tool turn; the answer is the last assistant turn.

- ``openai``: OpenAI fine-tuning JSONL, ``{"messages": [..., {"role": "assistant", "tool_calls": [{"id",
  "type": "function", "function": {"name", "arguments": "<JSON string>"}}]}, {"role": "tool",
  "tool_call_id", "content"}, ...], "tools": [...]}``;
- ``chatml``: Hermes function calling in ChatML: the tools in ``<tools>`` in the system turn, each call in
  ``<tool_call>``, each result in a ``tool`` turn's ``<tool_response>``;
- ``sharegpt``: ShareGPT with tool roles (LLaMA-Factory's): ``human``, ``function_call``, ``observation``,
  ``gpt``, and ``tools`` as a JSON string;
- ``hf``: the OpenAI messages with every field present in every turn (a `datasets` column needs one type)
  and ``tools`` as a JSON string.
"""
from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from ..errors import UsageError

HERMES_SYSTEM = ("You are a function calling AI model. You are provided with function signatures within "
                 "<tools></tools> XML tags. You may call one or more functions to assist with the user query. "
                 "Don't make assumptions about what values to plug into functions. Here are the available tools: "
                 "<tools>{tools}</tools> For each function call return a json object with function name and "
                 "arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n"
                 '{{"name": <function-name>, "arguments": <args-dict>}}\n</tool_call>')


def is_tool_record(row: Any) -> bool:
    return isinstance(row, dict) and isinstance(row.get("calls"), list) and "request" in row and "tools" in row


def _steps(row: dict[str, Any]) -> list[list[tuple[int, dict[str, Any]]]]:
    indexed = list(enumerate(row["calls"]))
    return [list(g) for _, g in groupby(indexed, key=lambda ic: ic[1].get("step", 1))]


def _result_text(call: dict[str, Any]) -> str:
    if "error" in call and "result" not in call:
        return json.dumps({"error": call["error"]}, ensure_ascii=False)
    r = call.get("result")
    return r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)


def _functions(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [t.get("function", t) for t in row["tools"]]


def to_openai(row: dict[str, Any], system: str | None = None) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    msgs.append({"role": "user", "content": row["request"]})
    for step in _steps(row):
        msgs.append({"role": "assistant", "tool_calls": [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments") or {}, ensure_ascii=False)}}
            for i, c in step]})
        msgs += [{"role": "tool", "tool_call_id": f"call_{i}", "content": _result_text(c)} for i, c in step]
    msgs.append({"role": "assistant", "content": row.get("answer", "")})
    return {"messages": msgs, "tools": row["tools"]}


def to_chatml(row: dict[str, Any], system: str | None = None) -> dict[str, Any]:
    head = HERMES_SYSTEM.format(tools=json.dumps(row["tools"], ensure_ascii=False))
    turns = [("system", f"{system}\n\n{head}" if system else head), ("user", row["request"])]
    for step in _steps(row):
        turns.append(("assistant", "\n".join(
            "<tool_call>\n" + json.dumps({"name": c["name"], "arguments": c.get("arguments") or {}},
                                         ensure_ascii=False) + "\n</tool_call>" for _, c in step)))
        turns.append(("tool", "\n".join(
            "<tool_response>\n" + json.dumps({"name": c["name"], "content": json.loads(_result_text(c))
                                              if _result_text(c)[:1] in "[{" else _result_text(c)},
                                             ensure_ascii=False) + "\n</tool_response>" for _, c in step)))
    turns.append(("assistant", row.get("answer", "")))
    return {"text": "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns)}


def to_sharegpt(row: dict[str, Any], system: str | None = None) -> dict[str, Any]:
    conv = [{"from": "human", "value": row["request"]}]
    for step in _steps(row):
        calls = [{"name": c["name"], "arguments": c.get("arguments") or {}} for _, c in step]
        results = [_result_text(c) for _, c in step]
        conv.append({"from": "function_call", "value": json.dumps(calls[0] if len(calls) == 1 else calls,
                                                                  ensure_ascii=False)})
        conv.append({"from": "observation", "value": results[0] if len(results) == 1
                     else json.dumps([json.loads(r) if r[:1] in "[{" else r for r in results], ensure_ascii=False)})
    conv.append({"from": "gpt", "value": row.get("answer", "")})
    out: dict[str, Any] = {"conversations": conv, "tools": json.dumps(_functions(row), ensure_ascii=False)}
    if system:
        out["system"] = system
    return out


def to_alpaca(row: dict[str, Any], system: str | None = None) -> dict[str, Any]:
    raise UsageError("--format alpaca holds one instruction and one response, and these records are tool-calling "
                     "dialogues: use --format openai, sharegpt, chatml (Hermes) or hf")


def hf_row(row: dict[str, Any], system: str | None = None) -> dict[str, Any]:
    """One row of an HF dataset: every message has role, content, tool_calls and tool_call_id."""
    msgs = [{"role": m["role"], "content": m.get("content") or "", "tool_calls": m.get("tool_calls") or [],
             "tool_call_id": m.get("tool_call_id", "")} for m in to_openai(row, system)["messages"]]
    return {"messages": msgs, "tools": json.dumps(row["tools"], ensure_ascii=False),
            "request": row["request"], "scenario": str(row.get("scenario", "")), "answer": row.get("answer", "")}


CONVERTERS = {"openai": to_openai, "sharegpt": to_sharegpt, "chatml": to_chatml, "alpaca": to_alpaca}
