"""The one way from a model's reply to a value (llm/jsontext.py), and the result's typed error kind."""
from __future__ import annotations

import json

import pytest

from synthloom.engine.cache import CachedLLM, UsageMeter
from synthloom.errors import SchemaError
from synthloom.llm.jsontext import object_schema, parse_json_text, read_reply, validator
from synthloom.llm.types import GenerationRequest, GenerationResult, result_to_json

OBJ = {"type": "object", "properties": {"a": {"type": "integer"}}}


def test_parse_json_text_tolerates_fences_and_chatter():
    assert parse_json_text('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_text('Here you go: {"a": [1, 2]} Enjoy.') == {"a": [1, 2]}
    assert parse_json_text("[1, 2]") == [1, 2]
    assert parse_json_text("no json") is None


def test_parse_takes_first_json_value_from_free_text():
    # moved from test_constrain.py (it tested llamacpp._parse_json, now read_reply for both backends)
    assert read_reply('{"a": 1}', "stop")[:2] == ({"a": 1}, None)
    assert read_reply(' {"a": 1}\n\nmore text {"b": 2}', "stop")[:2] == ({"a": 1}, None)
    value, _, error = read_reply('{"a": "unfinished', "length")
    assert value is None and "max_tokens" in error


def test_an_object_is_found_after_a_bracketed_aside_and_a_cut_object_gives_nothing():
    # [note] is not JSON; a list before the object is passed over when the schema asks for an object
    assert parse_json_text('[note] {"a": 1}', want_object=True) == {"a": 1}
    assert parse_json_text('Scores: [1, 2] then {"a": 1}', want_object=True) == {"a": 1}
    # the reply stopped inside the object: its inner list is not the answer
    assert parse_json_text('{"items": [1, 2], "b": "unterminated', want_object=True) is None
    assert parse_json_text('{"a": {"b": 1}', want_object=True) is None


def test_read_reply_names_the_kind_of_failure():
    assert read_reply('{"a": 1}', "stop", OBJ) == ({"a": 1}, None, None)
    value, kind, error = read_reply('{"a": 1', "length", OBJ)
    assert value is None and kind == "truncated" and error.startswith("parse: output is cut off by max_tokens")
    value, kind, error = read_reply("I cannot do that", "stop", OBJ)
    assert value is None and kind == "invalid_json" and "not valid JSON" in error
    assert read_reply('{"a": 1', "length", OBJ, cut_by="request_timeout_s")[2].startswith(
        "parse: output is cut off by request_timeout_s")


def test_a_result_from_an_old_store_gets_its_kind_from_the_stored_error():
    old = {"text": '{"a"', "parsed": None, "finish_reason": "length", "prompt_tokens": 3, "completion_tokens": 4,
           "latency_s": 0.1, "model": "m", "error": "parse: output is cut off by max_tokens: '{\"a\"'"}
    assert GenerationResult(cached=True, **old).error_kind == "truncated"
    assert GenerationResult(**{**old, "finish_reason": "stop", "error": "parse: output is not valid JSON"}
                            ).error_kind == "invalid_json"
    assert GenerationResult(text="", finish_reason="error", error="HTTP 500").error_kind == "backend"
    assert GenerationResult(text="{}", parsed={}).error_kind is None


def test_the_kind_is_stored_with_the_call_and_replays(tmp_path):
    from synthloom.runs import RunStore

    class Once:
        identity = "fake:once"

        def __init__(self):
            self.calls = 0

        async def generate(self, requests):
            self.calls += len(requests)
            return [GenerationResult(text="not json", finish_reason="stop", error="parse: output is not valid JSON",
                                     error_kind="invalid_json", model=self.identity) for _ in requests]

        async def aclose(self):
            return None

    import asyncio

    inner = Once()
    req = GenerationRequest(prompt="x", json_schema=OBJ, seed=1)
    with RunStore(tmp_path / "store.sqlite") as store:
        llm = CachedLLM(inner, store, UsageMeter())
        (first,) = asyncio.run(llm.generate([req]))
        (again,) = asyncio.run(llm.generate([req]))
    assert inner.calls == 1 and again.cached and again.error_kind == "invalid_json" and again.parsed is None
    assert json.loads(result_to_json(first))["error_kind"] == "invalid_json"


def test_parsed_object_is_the_value_of_a_good_call_only():
    assert GenerationResult(text="{}", parsed={"a": 1}).parsed_object == {"a": 1}
    assert GenerationResult(text="[1]", parsed=[1]).parsed_object is None
    assert GenerationResult(text="", finish_reason="error", error="HTTP 500").parsed_object is None


def test_one_validator_factory_checks_formats_and_names_a_bad_schema():
    v = validator({"type": "object", "properties": {"d": {"type": "string", "format": "date"}}})
    assert v.is_valid({"d": "2024-01-31"}) and not v.is_valid({"d": "2024-02-30"})
    assert validator(OBJ) is validator(dict(OBJ))  # cached by content
    with pytest.raises(SchemaError, match=r"^recipe.yaml: generate.schema: invalid JSON schema at type"):
        validator({"type": "objekt"}, "recipe.yaml: generate.schema")


def test_object_schema_is_closed_and_requires_its_properties():
    s = object_schema({"answer": {"enum": ["yes", "no"]}, "reason": {"type": "string"}}, required=["answer"])
    assert s == {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}, "reason": {"type": "string"}},
                 "required": ["answer"], "additionalProperties": False}
    assert object_schema({"x": {}})["required"] == ["x"]


def test_integers_beyond_64_bits_keep_their_value_from_both_paths():
    big = 10**30
    assert read_reply(f'{{"n": {big}}}', "stop", OBJ)[0] == {"n": big}
    assert parse_json_text(f'Here: {{"n": {big}}}', want_object=True) == {"n": big}
