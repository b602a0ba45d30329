"""Every JSON schema the tools technique sends compiles in llama.cpp's own server.

llama-cpp-python's OpenAI-compatible server turns a request's `response_format` schema into a GBNF grammar
with `llama_cpp.llama_grammar.json_schema_to_gbnf` and hands it to llama.cpp's grammar parser
(`llama_sampler_init_grammar`); a grammar the parser refuses ("failed to parse grammar") takes the server
process down. This runs the same two steps on every schema the technique (and `evaluate`) sends. The parser
needs a vocabulary: the bundled GGUF's, read with `vocab_only` (the tokenizer, not the weights: about a second).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom import run_recipe
from synthloom.engine.recipe_file import load_recipe
from synthloom.generators._tool_specs import read_tool_specs
from synthloom.generators._tool_prompts import plan_text
from synthloom.generators.tools import JUDGE_SCHEMA, calls_schema
from synthloom.llm.jsontext import object_schema

from fakes import ScriptedLLM
from test_tool_nested_params import NESTED

llama_cpp = pytest.importorskip("llama_cpp")
from llama_cpp.llama_grammar import json_schema_to_gbnf  # noqa: E402

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def vocab():
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from helpers.llama_server import bundled_model_path

    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(bundled_model_path()).encode(), params)
    assert model, "the bundled GGUF's vocabulary did not load"
    try:
        yield llama_cpp.llama_model_get_vocab(model)
    finally:
        llama_cpp.llama_model_free(model)


def grammar_error(schema: dict, vocab) -> str | None:
    """What llama-cpp-python's server would hit with this schema: None, or why it has no grammar."""
    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # the server falls back to plain JSON here; still a schema it cannot honour
        return f"json_schema_to_gbnf: {type(exc).__name__}: {exc}"
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
    if not sampler:
        return f"failed to parse grammar:\n{gbnf[:400]}"
    llama_cpp.llama_sampler_free(sampler)
    return None


def test_a_const_holding_quoted_json_is_what_breaks_the_server(vocab) -> None:
    """The check can fail: the plan as the technique used to pin it is refused."""
    old = object_schema({"calls": {"const": 'get_weather({"city": "Rome"})'}, "request": {"type": "string"}})
    assert grammar_error(old, vocab) is not None
    assert grammar_error(object_schema({"calls": {"const": "get_weather(city=Rome)"}}), vocab) is None


def test_every_schema_the_tools_technique_sends_compiles_in_llama_cpp(vocab, tmp_path: Path) -> None:
    # a run of the shipped recipe over every scenario kind, with planned values holding quotes and backslashes
    recipe = load_recipe(EXAMPLES / "tools.yaml", {"count": 8})
    values = {**recipe.generate.values, "get_weather": {"city": ['Rome "centro"', "C:\\temp\\", "Zürich"]},
              "list_orders": {"customer": ['Ana "Nina" Silva']}}
    recipe = recipe.model_copy(update={
        "generate": recipe.generate.model_copy(update={"values": values}),
        "engine": recipe.engine.model_copy(update={"concurrency": 1, "max_attempts": 2})})

    def respond(req):
        if req.purpose == "request":
            return {"calls": req.json_schema["properties"]["calls"]["const"], "request": "What is it like in Lisbon?"}
        if req.purpose == "calls":
            return {"calls": [{"name": "get_weather", "arguments": {"city": "Lisbon"}}]}
        return "It is sunny in Lisbon, 22 degrees."

    llm = ScriptedLLM(respond)
    run_recipe(recipe, base_dir=EXAMPLES, output=tmp_path / "out", llm=llm)
    sent = {json.dumps(r.json_schema, sort_keys=True): (r.purpose, r.json_schema) for r in llm.requests
            if r.json_schema is not None}
    purposes = {p for p, _ in sent.values()}
    assert purposes == {"request", "calls"}, purposes
    plans = [s["properties"]["calls"]["const"] for p, s in sent.values() if p == "request"]
    assert any("centro" in p or "Nina" in p or "temp" in p for p in plans), plans  # the quoted values were planned
    # the calls schemas of every tool source, with the bounds each scenario kind and `evaluate` use
    for tools, functions in ((None, "tools/functions.py"), ("tools/tools.openai.json", None),
                             ("tools/tools.mcp.json", None)):
        specs = read_tool_specs(tools, functions, EXAMPLES)
        for lo, hi in ((1, 1), (2, 2), (0, 1), (0, 4)):
            s = calls_schema(specs, lo, hi)
            sent[json.dumps(s, sort_keys=True)] = ("calls", s)
    sent["judge"] = ("judge", JUDGE_SCHEMA)  # the optional judge (`judge: true`; its own test in test_tools.py)
    # a Python tool with nested parameters (a pydantic model, a list of dataclasses, an optional TypedDict)
    nested = tmp_path / "shop.py"
    nested.write_text(NESTED, encoding="utf-8")
    s = calls_schema(read_tool_specs(None, str(nested), tmp_path), 1, 2)
    sent[json.dumps(s, sort_keys=True)] = ("calls", s)
    bad = {k: grammar_error(s, vocab) for k, (_, s) in sent.items()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, "\n\n".join(f"{k}\n-> {v}" for k, v in bad.items())


def test_the_plan_holds_no_double_quote_or_backslash() -> None:
    plan = plan_text("parallel", [("find", {"name": 'Ana "Nina"', "path": "C:\\x", "tags": ["a", "b"]}),
                                  ("find", {"name": "Bo", "n": 2.5, "f": {"k": None}})])
    assert plan == "find(name=Ana 'Nina', path=C:/x, tags=[a, b]) and find(name=Bo, n=2.5, f={k: null}), independently"


@pytest.mark.parametrize("param, fails", [
    ({"type": "string", "pattern": r"^\d{5}$"}, True),
    ({"type": "string", "pattern": r"^A-[0-9]{4}$"}, False),
    ({"enum": ['say "hi"', "bye"]}, True),
    ({"enum": ["hi", "bye"]}, False),
])
def test_a_tool_schema_the_server_cannot_compile_is_named_at_load(param, fails, vocab, tmp_path: Path, caplog) -> None:
    """The tools' own parameter schemas go to the server as written: the ones its converter breaks on are
    named when the recipe is built (the warning agrees with the real converter)."""
    from synthloom.engine.recipe_file import recipe_from_dict
    from synthloom.generators import build_generator

    tools = [{"name": "t", "parameters": {"type": "object", "properties": {"p": param}, "required": ["p"]}}]
    rec = recipe_from_dict({"count": 1, "generate": {"technique": "tools", "tools": tools, "mock": {"t": 1}}}, "r")
    with caplog.at_level("WARNING"):
        gen = build_generator(rec.generate, tmp_path)
    warned = [r.getMessage() for r in caplog.records if "llama-cpp-python's server" in r.getMessage()]
    assert (grammar_error(calls_schema(gen.specs, 1, 1), vocab) is not None) is fails
    assert bool(warned) is fails, warned
    if fails:
        assert "t.parameters.properties.p" in warned[0]
