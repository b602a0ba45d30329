"""Function-calling records (`technique: tools`) with scripted models: tools in from three sources, calls run in
a worker process (a tool that raises, one that hangs, arguments of the wrong types), the three checks in the
funnel, and a record a user would keep."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from synthloom import RunStore, run_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import InputFileError, RecipeError
from synthloom.generators._tool_runner import ToolRunner
from synthloom.generators._tool_specs import read_tool_specs, specs_from_json, specs_from_module
from synthloom.quality.tool_calls import answer_uses_results, format_problem, invented_numbers, ungrounded_arguments

from fakes import ScriptedLLM

FUNCTIONS = '''
"""Test tools."""
import time
from typing import Literal


def lookup_rate(base: str, target: str = "EUR") -> dict:
    """Exchange rate between two currencies.

    Args:
        base: currency to convert from, e.g. USD
        target: currency to convert to
    """
    return {"base": base, "target": target, "rate": 0.92}


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


def sleepy(seconds: float) -> str:
    """Hangs."""
    time.sleep(seconds)
    return "woke"


def level(kind: Literal["low", "high"]) -> str:
    """A choice."""
    return kind
'''


@pytest.fixture()
def module(tmp_path: Path) -> Path:
    p = tmp_path / "tools_impl.py"
    p.write_text(FUNCTIONS, encoding="utf-8")
    return p


def test_python_functions_become_tool_schemas(module: Path) -> None:
    specs, _ = specs_from_module(module)
    by = {s.name: s for s in specs}
    assert list(by) == ["lookup_rate", "add", "explode", "sleepy", "level"]
    rate = by["lookup_rate"]
    assert rate.description == "Exchange rate between two currencies."
    assert rate.parameters["required"] == ["base"]
    assert rate.parameters["properties"]["base"] == {"type": "string", "description": "currency to convert from, e.g. USD"}
    assert rate.parameters["properties"]["target"]["default"] == "EUR"
    assert by["add"].parameters["properties"]["a"] == {"type": "integer"}
    assert by["level"].parameters["properties"]["kind"]["enum"] == ["low", "high"]
    assert rate.openai()["function"]["name"] == "lookup_rate"


def test_openai_and_mcp_json_read_alike(tmp_path: Path) -> None:
    params = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    openai = [{"type": "function", "function": {"name": "search", "description": "Search.", "parameters": params}}]
    mcp = {"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "search", "description": "Search.",
                                                             "inputSchema": params}]}}
    assert specs_from_json(openai, "x") == specs_from_json(mcp, "y")
    (tmp_path / "t.json").write_text(json.dumps(openai))
    assert read_tool_specs("t.json", None, tmp_path)[0].name == "search"
    with pytest.raises(InputFileError, match="parameters must be a JSON schema of type object"):
        specs_from_json([{"name": "bad", "parameters": {"type": "string"}}], "tools.json")
    with pytest.raises(InputFileError, match="unique"):
        specs_from_json([{"name": "a"}, {"name": "a"}], "tools.json")


def test_a_tool_that_raises_is_a_tool_error_and_one_that_hangs_times_out(module: Path) -> None:
    runner = ToolRunner(module, timeout_s=1.5)
    try:
        assert runner.call("add", {"a": 2, "b": 3}).result == 5
        out = runner.call("explode", {"reason": "x"})
        assert not out.ok and out.error == "RuntimeError: boom: x"
        t0 = time.perf_counter()
        out = runner.call("sleepy", {"seconds": 30})
        assert not out.ok and out.error.startswith("timeout")
        assert time.perf_counter() - t0 < 10
        assert runner.call("add", {"a": 1, "b": 1}).result == 2  # a fresh worker serves the next call
    finally:
        runner.close()


def test_worker_runs_apart_from_the_engine(module: Path, tmp_path: Path) -> None:
    (tmp_path / "who.py").write_text("import os\n\ndef pid() -> int:\n    \"\"\"Its pid.\"\"\"\n    return os.getpid()\n")
    import os

    runner = ToolRunner(tmp_path / "who.py")
    try:
        assert runner.call("pid", {}).result != os.getpid()
    finally:
        runner.close()


def test_mock_and_recorded_responses() -> None:
    runner = ToolRunner(None, {"send": {"sent": True},
                               "get": [{"arguments": {"id": 1}, "result": {"name": "one"}}]})
    assert runner.call("send", {"to": "x"}).result == {"sent": True}
    assert runner.call("get", {"id": 1}).result == {"name": "one"}
    assert "no recorded response" in runner.call("get", {"id": 2}).error


def test_format_check_rejects_valid_json_of_the_wrong_types(module: Path) -> None:
    specs, _ = specs_from_module(module)
    schemas = {s.name: s.parameters for s in specs}
    assert format_problem("add", {"a": 1, "b": 2}, schemas) is None
    reason, detail = format_problem("add", {"a": "1", "b": 2}, schemas)
    assert reason == "format:invalid_arguments" and "a: '1' is not of type 'integer'" in detail
    assert format_problem("nope", {}, schemas)[0] == "format:unknown_tool"
    assert format_problem("level", {"kind": "mid"}, schemas)[0] == "format:invalid_arguments"


def test_semantic_checks() -> None:
    params = {"properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}}
    assert ungrounded_arguments({"city": "Rome", "unit": "f"}, params, "weather in rome?") == []
    assert ungrounded_arguments({"city": "Lagos"}, params, "weather in rome?") == ["city='Lagos'"]
    assert answer_uses_results("It is 19 degrees in Rome.", [{"temp": 19}])
    assert not answer_uses_results("It is nice there.", [{"temp": 19, "sky": "clear"}])
    assert invented_numbers("Order A-1004 costs $240.", "price of A-1004", [{"total": 87.0}]) == ["240"]
    assert invented_numbers("It costs 87.00 now.", "x", [{"total": 87.0}]) == []
    assert invented_numbers("Order A-1003 (10 chairs), 18 degrees", "A-1003", [{"q": 1}]) == ["10", "18"]


def recipe(module: Path, count: int = 2, attempts: int = 6, **gen) -> object:
    g = {"technique": "tools", "functions": str(module), "scenarios": ["single"], "timeout_s": 2,
         "examples": [{"request": "What is 2 plus 3?", "calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}],
                       "answer": "2 plus 3 is 5."}], **gen}
    return recipe_from_dict({"name": "tools", "count": count, "generate": g, "quality": [],
                             "engine": {"concurrency": 1, "seed": 1, "max_attempts": attempts}}, "test")


def scripted(calls_for, answer="The sum is 11."):
    def respond(req):
        if req.purpose == "request":
            return {"request": "Please add 4 and 7 for me."}
        if req.purpose == "calls":
            return {"calls": calls_for(req)}
        return answer
    return ScriptedLLM(respond)


def test_an_accepted_record_holds_the_request_calls_results_and_answer(module: Path, tmp_path: Path) -> None:
    llm = scripted(lambda req: [{"name": "add", "arguments": {"a": 4, "b": 7}}])
    s = run_recipe(recipe(module, 1), base_dir=tmp_path, output=tmp_path / "out", llm=llm)
    assert s.accepted == 1
    rec = json.loads((tmp_path / "out" / "data.jsonl").read_text().splitlines()[0])
    assert rec["request"] == "Please add 4 and 7 for me."
    assert rec["calls"] == [{"name": "add", "arguments": {"a": 4, "b": 7}, "step": 1, "result": 11}]
    assert rec["answer"] == "The sum is 11." and rec["scenario"] == "single"
    assert {t["function"]["name"] for t in rec["tools"]} >= {"add", "lookup_rate"}
    # the call prompt showed the example's request and call; the answer prompt its result
    call_req = next(r for r in llm.requests if r.purpose == "calls")
    assert any('"name": "add"' in m["content"] for m in call_req.messages)
    schema_items = call_req.json_schema["properties"]["calls"]["items"]["anyOf"]
    assert {"const": "add"} in [i["properties"]["name"] for i in schema_items]
    ans_req = next(r for r in llm.requests if r.purpose == "answer")
    assert "add({\"a\": 2, \"b\": 3}) -> 5" in ans_req.messages[-3]["content"]


@pytest.mark.parametrize("call, reason", [
    ({"name": "add", "arguments": {"a": "4", "b": 7}}, "format:invalid_arguments"),  # valid JSON, wrong type
    ({"name": "explode", "arguments": {"reason": "4 and 7"}}, "execution:tool_error"),
    ({"name": "sleepy", "arguments": {"seconds": 30}}, "execution:timeout"),
    ({"name": "lookup_rate", "arguments": {"base": "USD"}}, "semantics:wrong_tool"),
    ({"name": "add", "arguments": {"a": 40, "b": 7}}, "semantics:ungrounded_arguments"),
])
def test_each_check_is_a_reason_in_the_funnel(module: Path, tmp_path: Path, call, reason) -> None:
    llm = scripted(lambda req: [call])
    out = tmp_path / "out"
    # a hanging tool costs its time limit per slot: one slot shows it (the others need the slot that plans `add`)
    attempts = 1 if reason == "execution:timeout" else 6
    s = run_recipe(recipe(module, 1, attempts=attempts), base_dir=tmp_path, output=out, llm=llm)
    assert s.accepted == 0
    with RunStore(out / "store.sqlite") as store:
        reasons = {r.reason for r in store.rejections()}
    assert reason in reasons


def test_answer_that_ignores_or_invents_is_rejected(module: Path, tmp_path: Path) -> None:
    for answer, reason in (("Done, all good.", "semantics:answer_ignores_results"),
                           ("4 plus 7 is 11, or 12.", "semantics:answer_invents_numbers")):
        llm = scripted(lambda req: [{"name": "add", "arguments": {"a": 4, "b": 7}}], answer)
        out = tmp_path / reason
        run_recipe(recipe(module, 1), base_dir=tmp_path, output=out, llm=llm)
        with RunStore(out / "store.sqlite") as store:
            assert reason in {r.reason for r in store.rejections()}


def test_multi_step_shows_the_first_result_to_the_second_call(module: Path, tmp_path: Path) -> None:
    def calls_for(req):
        if "Earlier calls and results" in req.messages[-1]["content"]:
            return [{"name": "add", "arguments": {"a": 11, "b": 4}}]
        return [{"name": "add", "arguments": {"a": 4, "b": 7}}]

    llm = scripted(calls_for, "4 plus 7 is 11, and 11 plus 4 is 15.")
    s = run_recipe(recipe(module, 1, scenarios=["multi_step"]), base_dir=tmp_path, output=tmp_path / "o", llm=llm)
    # the plan is two distinct tools when there are several: two adds is the wrong tool set
    with RunStore(tmp_path / "o" / "store.sqlite") as store:
        rej = list(store.rejections())
    assert s.accepted == 0 and rej[0].reason == "semantics:wrong_tool"
    second = [r for r in llm.requests if r.purpose == "calls"][1]
    assert "add({\"a\": 4, \"b\": 7}) -> 11" in second.messages[-1]["content"]


def test_recipe_errors_name_the_field(module: Path, tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="give `tools`"):
        recipe_from_dict({"count": 1, "generate": {"technique": "tools"}}, "r.yaml")
    from synthloom.generators import build_generator

    rec = recipe(module, examples=[{"request": "x y z", "calls": [{"name": "nope"}]}])
    with pytest.raises(RecipeError, match="generate.examples: call of 'nope'"):
        build_generator(rec.generate, tmp_path)
    rec = recipe_from_dict({"count": 1, "generate": {"technique": "tools", "tools": [{"name": "a"}]}}, "r")
    with pytest.raises(RecipeError, match="a: no implementation"):
        build_generator(rec.generate, tmp_path)


def test_json_tools_with_mock_responses_and_planned_values(tmp_path: Path) -> None:
    """MCP `tools/list` JSON with mock responses (no Python run): the request is written around a sampled value."""
    examples = Path(__file__).parents[2] / "examples" / "tools"
    g = {"technique": "tools", "tools": str(examples / "tools.mcp.json"), "mock": str(examples / "mock.yaml"),
         "scenarios": ["single"], "values": {"get_order": {"order_id": ["A-1003"]}}}
    rec = recipe_from_dict({"name": "t", "count": 1, "generate": g, "quality": [],
                            "engine": {"concurrency": 1, "max_attempts": 8}}, "test")
    from synthloom.generators import build_generator

    gen = build_generator(rec.generate, tmp_path)
    gen.pick = lambda slot, ctx, kind: ["get_order"]

    def respond(req):
        if req.purpose == "request":
            assert "Calls: get_order(order_id=A-1003)" in req.messages[-1]["content"]
            assert req.json_schema["properties"]["calls"] == {"const": "get_order(order_id=A-1003)"}
            return {"request": "Where is my order A-1003?"}
        if req.purpose == "calls":
            return {"calls": [{"name": "get_order", "arguments": {"order_id": "A-1003"}}]}
        return "Order A-1003, the office chair, was delivered to Osaka."

    from synthloom.generators.base import GenContext
    import asyncio

    out = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(respond))))
    assert len(out) == 1 and out[0].data["calls"][0]["result"]["ship_city"] == "Osaka", out
    bad = recipe_from_dict({"name": "t", "count": 1, "generate": {**g, "values": {"get_order": {"id": ["x"]}}}}, "t")
    with pytest.raises(RecipeError, match="generate.values.get_order.id: get_order has no parameter 'id'"):
        build_generator(bad.generate, tmp_path)


def test_repeated_parallel_calls_and_copied_examples_are_rejected(module: Path, tmp_path: Path) -> None:
    llm = scripted(lambda req: [{"name": "add", "arguments": {"a": 4, "b": 7}}] * 2)
    run_recipe(recipe(module, 1, scenarios=["parallel"]), base_dir=tmp_path, output=tmp_path / "p", llm=llm)
    with RunStore(tmp_path / "p" / "store.sqlite") as store:
        assert "semantics:repeated_call" in {r.reason for r in store.rejections()}

    def respond(req):
        return {"request": "What is 2 plus 3, please?"} if req.purpose == "request" else {"calls": []}

    run_recipe(recipe(module, 1), base_dir=tmp_path, output=tmp_path / "c", llm=ScriptedLLM(respond))
    with RunStore(tmp_path / "c" / "store.sqlite") as store:
        assert {r.reason for r in store.rejections()} == {"copied_example"}


def test_an_examples_wording_around_new_values_is_not_a_copy() -> None:
    from synthloom.generators.tools import ToolsGenerator

    shown = [{"request": "Where is order A-1004 going, and what's the weather there?"}]
    plan = [("get_order", {"order_id": "A-1005"}), ("get_weather", {})]
    assert ToolsGenerator.copied("Where is order A-1005 going, and what's the weather there?", shown, plan) is None
    assert "none of the planned values" in ToolsGenerator.copied(
        "Where is order A-1004 going, and what is the weather there?", shown, plan)
    assert ToolsGenerator.copied("Please send roses to my mother.", [{"request": "Please send flowers to my mother."}],
                                 [])


def test_a_looping_request_or_an_echoing_answer_is_rejected(module: Path, tmp_path: Path) -> None:
    for request, answer, reason in (
            ("Add 4 and 7 for me. Add 4 and 7 for me.", "11.", "repeated_text"),
            ("Please add 4 and 7 for me.", "Please add 4 and 7 for me, 11.", "semantics:answer_echoes")):
        def respond(req, request=request, answer=answer):
            if req.purpose == "request":
                return {"request": request}
            return {"calls": [{"name": "add", "arguments": {"a": 4, "b": 7}}]} if req.purpose == "calls" else answer

        out = tmp_path / reason.replace(":", "_")
        run_recipe(recipe(module, 1), base_dir=tmp_path, output=out, llm=ScriptedLLM(respond))
        with RunStore(out / "store.sqlite") as store:
            assert reason in {r.reason for r in store.rejections()}


def test_a_no_tool_answer_may_not_invent_numbers(module: Path, tmp_path: Path) -> None:
    def respond(req):
        if req.purpose == "request":
            return {"request": "Book me a table for two tonight."}
        return {"calls": []} if req.purpose == "calls" else "You have two orders, A-1004 and A-1005, for two."

    run_recipe(recipe(module, 1, scenarios=["no_tool"]), base_dir=tmp_path, output=tmp_path / "n",
               llm=ScriptedLLM(respond))
    with RunStore(tmp_path / "n" / "store.sqlite") as store:
        assert {r.reason for r in store.rejections()} == {"semantics:answer_invents_numbers"}


def test_the_optional_judge_rejects_calls_or_answers_it_finds_wrong(module: Path, tmp_path: Path) -> None:
    """`judge: true`: after the judge-free checks, a model answers whether the calls fit the request and the
    answer fits the results; each 'no' is a semantics reason in the funnel, a 'yes' keeps the verdict."""
    seen = []
    for verdict, reason in (({"calls_fit": "no", "answer_fits": "yes"}, "semantics:judge_calls"),
                            ({"calls_fit": "yes", "answer_fits": "no"}, "semantics:judge_answer"),
                            ("not json", "semantics:judge_no_verdict"),
                            ({"calls_fit": "yes", "answer_fits": "yes"}, None)):
        def respond(req, verdict=verdict):
            if req.purpose == "judge":
                seen.append(req)
                return verdict if isinstance(verdict, str) else {"reason": "because", **verdict}
            if req.purpose == "request":
                return {"request": "Please add 4 and 7 for me."}
            if req.purpose == "calls":
                return {"calls": [{"name": "add", "arguments": {"a": 4, "b": 7}}]}
            return "The sum is 11."

        out = tmp_path / str(reason)
        s = run_recipe(recipe(module, 1, judge=True), base_dir=tmp_path, output=out, llm=ScriptedLLM(respond))
        with RunStore(out / "store.sqlite") as store:
            reasons = {r.reason for r in store.rejections()}
            accepted = store.accepted_records()
        if reason:
            assert s.accepted == 0 and reason in reasons, reasons
        else:
            assert s.accepted == 1 and accepted[0].meta["judge"] == {"reason": "because", "calls_fit": "yes",
                                                                     "answer_fits": "yes"}
    judged = seen[0].messages[-1]["content"]
    assert "Request: Please add 4 and 7 for me." in judged and 'add({"a": 4, "b": 7}) -> 11' in judged
    assert "Answer: The sum is 11." in judged and "- add: Add two whole numbers." in judged
    # off by default: no judge call, and a recipe without it keeps its serialised form
    llm = scripted(lambda req: [{"name": "add", "arguments": {"a": 4, "b": 7}}])
    run_recipe(recipe(module, 1), base_dir=tmp_path, output=tmp_path / "nojudge", llm=llm)
    assert "judge" not in {r.purpose for r in llm.requests}
    assert "judge" not in recipe(module, 1).generate.model_dump()


def test_chat_template_markup_in_a_request_or_answer_is_rejected(module: Path, tmp_path: Path) -> None:
    """A base model behind a chat server goes on writing the prompt's format ("<s>[INST]Calls: none ...")."""
    for request, answer, reason in (("What is 4 plus 7? <s>[INST]Calls: add(a=4, b=7)", "11.", "template_markup"),
                                    ("Please add 4 and 7 for me.", "4 plus 7 is 11.<|im_end|>",
                                     "semantics:answer_markup")):
        def respond(req, request=request, answer=answer):
            if req.purpose == "request":
                return {"request": request}
            if req.purpose == "calls":
                return {"calls": [{"name": "add", "arguments": {"a": 4, "b": 7}}]}
            return answer

        out = tmp_path / reason
        s = run_recipe(recipe(module, 1), base_dir=tmp_path, output=out, llm=ScriptedLLM(respond))
        with RunStore(out / "store.sqlite") as store:
            assert s.accepted == 0 and reason in {r.reason for r in store.rejections()}
