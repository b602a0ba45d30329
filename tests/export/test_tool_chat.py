"""Function-calling records exported as OpenAI fine-tuning (tools + tool_calls), Hermes/ChatML, ShareGPT with
tool roles and HF datasets (loaded back with `datasets`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom.errors import UsageError
from synthloom.export.dataset import export_run

TOOLS = [{"type": "function", "function": {"name": "get_order", "description": "One order.", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
         {"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {
             "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
             "required": ["city"]}}}]
MULTI = {"request": "Where is order A-1004 going, and what's the weather there?", "scenario": "multi_step",
         "calls": [{"name": "get_order", "arguments": {"order_id": "A-1004"}, "step": 1,
                    "result": {"order_id": "A-1004", "ship_city": "Lagos"}},
                   {"name": "get_weather", "arguments": {"city": "Lagos"}, "step": 2,
                    "result": {"condition": "thunderstorms", "temp_c": 29}}],
         "answer": "Order A-1004 ships to Lagos, where there are thunderstorms at 29 degrees.", "tools": TOOLS}
PARALLEL = {"request": "Weather in Rome and in Lisbon?", "scenario": "parallel",
            "calls": [{"name": "get_weather", "arguments": {"city": "Rome"}, "step": 1, "result": {"temp_c": 19}},
                      {"name": "get_weather", "arguments": {"city": "Lisbon", "days": 2}, "step": 1,
                       "result": {"temp_c": 21}}],
            "answer": "Rome is at 19 and Lisbon at 21 degrees.", "tools": TOOLS}
NONE = {"request": "Book me a table tonight.", "scenario": "no_tool", "calls": [],
        "answer": "Sorry, I cannot book tables.", "tools": TOOLS}


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    (d / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [MULTI, PARALLEL, NONE] * 4))
    return d


def rows(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_openai_has_tools_and_tool_calls(run: Path, tmp_path: Path) -> None:
    export_run(run, "openai", tmp_path / "o", split="1")
    out = rows(tmp_path / "o")
    multi = next(r for r in out if "A-1004" in r["messages"][0]["content"])
    roles = [m["role"] for m in multi["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    call = multi["messages"][1]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "get_order"
    assert json.loads(call["function"]["arguments"]) == {"order_id": "A-1004"}  # a JSON string, as OpenAI reads
    assert multi["messages"][2]["tool_call_id"] == call["id"]
    assert json.loads(multi["messages"][2]["content"])["ship_city"] == "Lagos"
    assert multi["tools"] == TOOLS and multi["messages"][-1]["content"].startswith("Order A-1004")
    par = next(r for r in out if r["messages"][0]["content"].startswith("Weather in Rome"))
    assert len(par["messages"][1]["tool_calls"]) == 2 and [m["role"] for m in par["messages"]].count("tool") == 2
    none = next(r for r in out if r["messages"][0]["content"].startswith("Book"))
    assert [m["role"] for m in none["messages"]] == ["user", "assistant"]


def test_hermes_chatml(run: Path, tmp_path: Path) -> None:
    export_run(run, "chatml", tmp_path / "c", split="1", system="You help a shop's customers.")
    text = next(r["text"] for r in rows(tmp_path / "c") if "A-1004" in r["text"])
    assert text.startswith("<|im_start|>system\nYou help a shop's customers.\n\nYou are a function calling AI model")
    assert '<tools>[{"type": "function"' in text
    assert '<tool_call>\n{"name": "get_order", "arguments": {"order_id": "A-1004"}}\n</tool_call>' in text
    assert "<|im_start|>tool\n<tool_response>\n{\"name\": \"get_order\", \"content\": {" in text
    assert text.rstrip().endswith("29 degrees.<|im_end|>")


def test_sharegpt_with_tool_roles(run: Path, tmp_path: Path) -> None:
    export_run(run, "sharegpt", tmp_path / "s", split="1")
    rec = next(r for r in rows(tmp_path / "s") if "A-1004" in r["conversations"][0]["value"])
    assert [c["from"] for c in rec["conversations"]] == ["human", "function_call", "observation", "function_call",
                                                        "observation", "gpt"]
    assert json.loads(rec["conversations"][1]["value"]) == {"name": "get_order", "arguments": {"order_id": "A-1004"}}
    assert [t["name"] for t in json.loads(rec["tools"])] == ["get_order", "get_weather"]


def test_alpaca_is_refused(run: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="tool-calling"):
        export_run(run, "alpaca", tmp_path / "a", split="1")


def test_hf_loads_with_datasets(run: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    export_run(run, "hf", tmp_path / "h", split="1")
    dd = datasets.load_from_disk(str(tmp_path / "h"))
    assert set(dd) == {"train"} and sum(len(d) for d in dd.values()) == 12
    row = next(r for d in dd.values() for r in d if r["scenario"] == "multi_step")
    assert row["messages"][1]["tool_calls"][0]["function"]["name"] == "get_order"
    assert json.loads(row["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"order_id": "A-1004"}
    assert json.loads(row["tools"])[0]["function"]["name"] == "get_order"


def test_splits_group_by_request_not_by_the_shared_tools(tmp_path: Path) -> None:
    d = tmp_path / "run"
    d.mkdir()
    rows = [{**MULTI, "request": " ".join(f"word{i * 7 + k}" for k in range(6))} for i in range(10)]  # unrelated
    (d / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = export_run(d, "openai", tmp_path / "o", split="0.8,0.2")
    assert s.counts == {"train": 8, "validation": 2}
