"""Values the decoder closed at their maxLength/maxItems bound are truncated: detected, rejected with
the field path (`truncated_value`) or retried down the ladder, never delivered as if complete."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fakes import ScriptedLLM
from synthloom.config.schema_gen import SchemaTechnique
from synthloom.generators.base import GenContext, parse_object
from synthloom.generators.schema import SchemaGenerator
from synthloom.llm.truncation import truncated_values, value_closings
from synthloom.llm.types import GenerationRequest, GenerationResult, result_to_json
from synthloom.records import Record, Rejection

SCHEMA = {"type": "object", "properties": {
    "subject": {"type": "string", "maxLength": 12},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 2},
    "code": {"type": "string", "enum": ["AB-12"]},
    "meta": {"type": "object", "properties": {"note": {"type": "string", "maxLength": 5}}},
}, "required": ["subject", "tags"]}


def test_closings_name_each_value_with_its_path():
    text = json.dumps({"subject": "a \"q\" b", "tags": ["x", "y"], "meta": {"note": "hi"}})
    closings = value_closings(text)
    assert [(p, k) for p, k, _ in closings] == [(("subject",), "string"), (("tags", 0), "string"),
                                                (("tags", 1), "string"), (("tags",), "array"),
                                                (("meta", "note"), "string")]
    for path, kind, offset in closings:  # the offset is the closing character
        assert text.encode()[offset:offset + 1] == (b'"' if kind == "string" else b"]")


def test_a_value_at_its_bound_is_truncated_only_when_the_model_did_not_choose_to_end_it():
    value = {"subject": "Please refun", "tags": ["billing", "refund"], "code": "AB-12", "meta": {"note": "short"}}
    text = json.dumps(value)
    # a backend that cannot tell who closed a value: every value at its bound counts
    assert truncated_values(text, value, SCHEMA) == ("subject", "tags", "meta.note")
    # the decoder's record: only the subject's closing quote was forced (the model wanted more)
    close = value_closings(text)[0][2]
    assert truncated_values(text, value, SCHEMA, overridden=[(close, close + 1)]) == ("subject",)
    assert truncated_values(text, value, SCHEMA, overridden=[]) == ()
    # below the bound, or an enum / fixed length: never truncated
    short = {"subject": "Refund", "tags": ["a"], "code": "AB-12"}
    assert truncated_values(json.dumps(short), short, SCHEMA) == ()


def test_truncated_result_is_rejected_with_the_field_path_and_survives_the_cache():
    value = {"subject": "Please refun", "tags": []}
    result = GenerationResult(text=json.dumps(value), parsed=value, truncated=("subject",))
    got, rejection = parse_object(result, {"slot": 0})
    assert got is None and rejection.reason == "truncated_value" and rejection.stage == "validate"
    assert rejection.detail.startswith("subject cut off at the schema's length bound") and "refun" in rejection.detail
    assert json.loads(result_to_json(result))["truncated"] == ["subject"]


def test_schema_technique_retries_a_truncated_value_on_the_ladder():
    calls = []

    async def generate(requests):
        calls.extend(requests)
        value = {"subject": "Please refun" if len(calls) == 1 else "Refund", "tags": []}
        return [GenerationResult(text=json.dumps(value), parsed=value,
                                 truncated=("subject",) if len(calls) == 1 else ())]

    llm = ScriptedLLM(lambda r: None)
    llm.generate = generate
    gen = SchemaGenerator(SchemaTechnique.model_validate({"schema": SCHEMA, "instruction": "tickets"}), Path("."))
    out = asyncio.run(gen.produce(0, GenContext(llm=llm)))
    assert [type(x) for x in out] == [Rejection, Record]
    assert out[0].reason == "truncated_value" and out[1].data["subject"] == "Refund"
    assert calls[0].seed != calls[1].seed  # the retry is a new draw, on the next rung


@pytest.mark.model
def test_bundled_model_values_cut_at_a_tiny_max_length_are_detected():
    """On the real decoder: with maxLength 12, a model asked for a long complaint is cut; the result
    names the field, and the value really ends at 12 characters."""
    from synthloom.llm.llamacpp import LlamaCppLLM

    llm = LlamaCppLLM()
    schema = {"type": "object", "properties": {"complaint": {"type": "string", "maxLength": 12}},
              "required": ["complaint"], "additionalProperties": False}
    long_one = ('{"complaint": "I was charged twice for my March subscription and nobody answered my emails '
                'for two weeks, so I want the duplicate payment refunded now."}')
    msgs = ({"role": "user", "content": "Write a customer's complaint about a billing problem, as JSON."},
            {"role": "assistant", "content": long_one},
            {"role": "user", "content": "Write another customer's complaint about a billing problem, as JSON."})
    results = llm.generate_sync([GenerationRequest(messages=msgs, json_schema=schema, max_tokens=40,
                                                   temperature=0.8, seed=s) for s in range(4)])
    cut = [r for r in results if r.truncated]
    assert cut, [r.text for r in results]
    for r in cut:
        assert r.truncated == ("complaint",) and len(r.parsed["complaint"]) == 12 and r.finish_reason == "stop"
    # a bound far above what the model writes: nothing is cut
    roomy = {**schema, "properties": {"complaint": {"type": "string", "maxLength": 400}}}
    (r,) = llm.generate_sync([GenerationRequest(messages=msgs, json_schema=roomy, max_tokens=150, seed=1,
                                                temperature=0.8)])
    assert not r.truncated or len(r.parsed["complaint"]) == 400


def test_a_list_the_retry_ladder_capped_is_kept_and_a_list_at_the_users_bound_is_not():
    """A retry rung caps lists the schema leaves open (the narrowing ladder's max_items): a list closed
    there holds complete items, only fewer; it is kept. A list at the schema's own maxItems, and any
    string cut at a bound, are still `truncated_value`."""
    user = {"type": "object", "properties": {
        "restrictions": {"type": "array", "items": {"type": "string"}},  # no bound: the ladder's cap
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "rooms": {"type": "array", "items": {"type": "object", "properties": {
            "doors": {"type": "array", "items": {"type": "integer"}}}}},
        "sha1": {"type": "string"}}}
    value = {"restrictions": ["edit"], "tags": ["a", "b"], "rooms": [{"doors": [1]}], "sha1": "da39a3ee5e6b4b0d"}
    text = json.dumps(value)
    laddered = GenerationResult(text=text, parsed=value, truncated=("restrictions", "rooms[0].doors"))
    assert parse_object(laddered, {}, user) == (value, None)
    assert parse_object(laddered, {})[1].reason == "truncated_value"  # without the user's schema: as before
    at_users_bound = GenerationResult(text=text, parsed=value, truncated=("restrictions", "tags"))
    _, rej = parse_object(at_users_bound, {}, user)
    assert rej.reason == "truncated_value" and rej.meta["truncated_fields"] == ["tags"]
    cut_string = GenerationResult(text=text, parsed=value, truncated=("sha1",))
    assert parse_object(cut_string, {}, user)[1].meta["truncated_fields"] == ["sha1"]


def test_a_text_cut_inside_a_key_is_read_up_to_the_cut():
    """Seen on a JSONSchemaBench schema at max_tokens: the reply ended inside a property name, and reading
    it raised (the call was lost as a backend error)."""
    from synthloom.llm.truncation import value_closings

    assert value_closings('{"a": "x", "b') == [(("a",), "string", 8)]
    assert value_closings('{"a": ["x"], "very long key cut \\" here') == [(("a", 0), "string", 9), (("a",), "array", 10)]
