"""The openai backend against a real llama.cpp server on loopback, running the bundled model."""
from __future__ import annotations

import jsonschema
import pytest

from synthloom.config.models import OpenAIModel
from synthloom.llm.openai_compat import OpenAICompatLLM
from synthloom.llm.types import GenerationRequest

from ..helpers.llama_server import llama_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.server, pytest.mark.timeout(600)]

# what llama.cpp's schema-to-grammar enforces while decoding: types, required keys, enums, string
# lengths, no extra keys (numeric bounds it does not: synthloom's generators validate after decoding)
SCHEMA = {
    "type": "object",
    "properties": {
        "product": {"type": "string", "minLength": 1, "maxLength": 40},
        "category": {"enum": ["cookware", "cutlery", "appliances"]},
        "price": {"type": "integer"},
        "in_stock": {"type": "boolean"},
    },
    "required": ["product", "category", "price", "in_stock"],
    "additionalProperties": False,
}


def ask(i: int) -> GenerationRequest:
    return GenerationRequest(
        messages=({"role": "system", "content": "You write product catalogue entries as JSON."},
                  {"role": "user", "content": f"Write catalogue entry number {i} for a kitchen shop."}),
        json_schema=SCHEMA, max_tokens=64, temperature=0.7, seed=i)


async def test_schema_valid_records_from_a_real_server(llama_server):  # noqa: F811
    llm = OpenAICompatLLM(OpenAIModel(backend="openai", base_url=llama_server, model="gemma3-270m",
                                      api_key_env=None, max_concurrency=2, timeout_s=300))
    try:
        results = await llm.generate([ask(i) for i in range(2)])
    finally:
        await llm.aclose()
    for r in results:
        assert r.ok, r.error
        assert r.parsed is not None, f"not JSON: {r.text!r}"
        jsonschema.validate(r.parsed, SCHEMA)
        assert r.completion_tokens > 0 and r.prompt_tokens > 0
        assert r.model == f"openai:{llama_server}#gemma3-270m"
    # llama-cpp-python's server takes the schema as {"type": "json_object", "schema": ...}:
    # the backend found that out from the first refusal and kept it
    assert llm._ladder[llm._level] == "json_object_schema"


async def test_plain_completion_from_a_real_server(llama_server):  # noqa: F811
    llm = OpenAICompatLLM(OpenAIModel(backend="openai", base_url=llama_server, model="gemma3-270m",
                                      api_key_env=None))
    try:
        [r] = await llm.generate([GenerationRequest(prompt="The capital of France is", max_tokens=8,
                                                    temperature=0.0, seed=1)])
    finally:
        await llm.aclose()
    assert r.ok and r.text.strip() and r.completion_tokens > 0
    assert r.finish_reason in ("stop", "length")


async def test_chat_requests_are_rendered_as_synthloom_renders_them(llama_server):  # noqa: F811
    """A chat request to the served base model continues the same text as synthloom's in-process backend would:
    the reply equals the completions endpoint's greedy reply to `render_completion(messages)` with its stops."""
    from synthloom.llm.render import COMPLETION_STOPS, render_completion

    messages = ({"role": "system", "content": "Answer with the capital city."},
                {"role": "user", "content": "France"}, {"role": "assistant", "content": "Paris"},
                {"role": "user", "content": "Italy"})
    llm = OpenAICompatLLM(OpenAIModel(backend="openai", base_url=llama_server, model="gemma3-270m",
                                      api_key_env=None, max_concurrency=1, timeout_s=300))
    try:
        [chat] = await llm.generate([GenerationRequest(messages=messages, max_tokens=24, temperature=0.0, seed=1)])
        [plain] = await llm.generate([GenerationRequest(prompt=render_completion(messages), max_tokens=24,
                                                        temperature=0.0, seed=1, stop=COMPLETION_STOPS)])
    finally:
        await llm.aclose()
    assert chat.ok and plain.ok, (chat.error, plain.error)
    assert chat.text.strip() and chat.text == plain.text
    assert "[INST]" not in chat.text and "Input:" not in chat.text
