"""The schema-instance retry helper: decoding schema narrowing, validation, retries."""
from __future__ import annotations

import asyncio

import jsonschema

from fakes import ScriptedLLM
from synthloom.llm.constrain import runaway_continuation
from synthloom.llm.structured import (
    DEFAULT_LADDER,
    decoding_schema,
    describe_schema,
    generate_for_schema,
    validation_errors,
)

SCHEMA = {
    "title": "Ticket",
    "description": "A support ticket",
    "type": "object",
    "properties": {
        "subject": {"type": "string", "description": "one line"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "when": {"type": "string", "format": "date"},
        "extra": {"type": "object", "properties": {"note": {"type": "string", "minLength": 500}}},
    },
    "required": ["subject", "code"],
}


def test_decoding_schema_only_narrows():
    d = decoding_schema(SCHEMA, DEFAULT_LADDER[0])
    props = d["properties"]
    assert props["subject"]["maxLength"] == DEFAULT_LADDER[0].max_string
    assert "maxLength" not in props["code"] and "maxLength" not in props["when"]  # pattern / format left alone
    assert "maxLength" not in props["extra"]["properties"]["note"]  # minLength above the cap: left alone
    assert props["tags"]["maxItems"] == DEFAULT_LADDER[0].max_items
    assert d["additionalProperties"] is False and set(d["properties"]) == set(SCHEMA["properties"])
    assert "maxLength" not in SCHEMA["properties"]["subject"]  # the original is untouched
    # anything valid for the narrowed schema is valid for the original
    instance = {"subject": "Refund", "code": "ABC", "tags": ["a"]}
    jsonschema.validate(instance, d)
    jsonschema.validate(instance, SCHEMA)


def test_minimal_rung_keeps_required_properties_only():
    d = decoding_schema(SCHEMA, DEFAULT_LADDER[2])
    assert set(d["properties"]) == {"subject", "code"} and d["additionalProperties"] is False


def test_an_undeclared_required_key_is_declared_and_the_object_closed():
    """`required: [id]` with only `_id` declared (JSONSchemaBench GitHub-Hard o62383): left open, the
    bundled model invented key after key until max_tokens on all 8 tries. The key gets a property (the
    additionalProperties schema, else a string) and the object is closed; every decoded instance is
    still an instance of the schema as written."""
    s = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]}
    for rung in (DEFAULT_LADDER[0], DEFAULT_LADDER[2]):
        d = decoding_schema(s, rung)
        assert d["additionalProperties"] is False and d["properties"]["b"]["type"] == "string"
        assert "b" not in s["properties"]  # the user's schema is not touched
        jsonschema.validate({"a": "x", "b": "y"}, d)
        jsonschema.validate({"a": "x", "b": "y"}, s)
    typed = {"type": "object", "properties": {}, "required": ["n"], "additionalProperties": {"type": "integer"}}
    assert decoding_schema(typed, DEFAULT_LADDER[0])["properties"]["n"]["type"] == "integer"


def test_objects_with_combinators_or_no_room_stay_open():
    s = {"type": "object", "properties": {"a": {}}, "allOf": [{"properties": {"b": {}}}]}
    assert "additionalProperties" not in decoding_schema(s, DEFAULT_LADDER[0])
    s = {"type": "object", "properties": {"a": {}}, "patternProperties": {"^x": {}}, "required": ["b"]}
    assert "additionalProperties" not in decoding_schema(s, DEFAULT_LADDER[0])


def test_validation_checks_formats_patterns_and_unique_items():
    assert validation_errors({"subject": "x", "code": "ABC"}, SCHEMA) == []
    errors = validation_errors({"subject": "x", "code": "abcd", "tags": ["a", "a"], "when": "yesterday"}, SCHEMA, 5)
    joined = " ".join(errors)
    assert "code" in joined and "tags" in joined and "when" in joined


def test_description_prompt_uses_titles_and_descriptions():
    text = describe_schema(SCHEMA)
    assert text.startswith("Ticket - A support ticket") and "- subject (required): one line" in text


def test_retries_until_valid_and_reports_reasons():
    answers = iter([{"subject": "x", "code": "lower"}, '{"subject": "cut', {"subject": "ok", "code": "XYZ"}])
    llm = ScriptedLLM(lambda req: next(answers))
    outcome = asyncio.run(generate_for_schema(llm, SCHEMA, seed=3))
    assert outcome.ok and outcome.value == {"subject": "ok", "code": "XYZ"} and outcome.tries == 3
    assert "code" in outcome.errors[0]
    # each try uses its own seed and a narrowed schema; the prompt comes from the schema
    assert len({r.seed for r in llm.requests}) == 3
    assert "Ticket" in llm.requests[0].messages[0]["content"]


def test_gives_up_after_the_ladder():
    llm = ScriptedLLM(lambda req: {"subject": 1})
    outcome = asyncio.run(generate_for_schema(llm, SCHEMA, ladder=DEFAULT_LADDER[:2]))
    assert not outcome.ok and outcome.tries == 2 and len(outcome.errors) == 2


def test_runaway_loop_detection():
    assert runaway_continuation([5] * 16) == 5
    assert runaway_continuation([1, 2] * 8) == 1
    assert runaway_continuation([1, 2, 3] * 3) is None  # too short to call it a loop
    assert runaway_continuation(list(range(40))) is None
    # a URL repeating its path: 17 tokens a turn, four turns (GitHub-Hard o4846 looped like this to max_tokens)
    turn = list(range(100, 117))
    assert runaway_continuation([7, 8] + turn * 4) == turn[0]
    assert runaway_continuation([7, 8] + turn * 3) is None  # three turns can still be text
    assert runaway_continuation(list(range(30)) * 2) is None  # a period longer than 24 tokens is left alone


def test_digit_runs_are_stopped_after_24_digits():
    from synthloom.llm.constrain import MAX_DIGIT_RUN, digit_run

    pieces = {1: b"SAM", 2: b"N", **{10 + d: str(d).encode() for d in range(10)}, 30: b"12"}
    piece = pieces.__getitem__
    digits = [10 + (i * 7) % 10 for i in range(MAX_DIGIT_RUN)]  # 0887...-like: no loop, just digits
    assert digit_run([1, 2] + digits[:-1], piece) == []  # 23 digits: an accession may be long
    assert digit_run([1, 2] + digits, piece) == list(reversed(digits))
    assert digit_run([1] + [30] * 12, piece) == [30] * 12  # multi-digit tokens count by their digits
    assert digit_run(digits + [2], piece) == []  # the run ended: nothing to stop


def test_minimal_rung_turns_any_value_into_short_strings():
    s = {"type": "object", "properties": {"free": {"description": "anything"}, "list": {"type": "array"}},
         "required": ["free", "list"]}
    d = decoding_schema(s, DEFAULT_LADDER[2])
    assert d["properties"]["free"]["type"] == "string"
    assert d["properties"]["list"]["items"]["type"] == "string"
    assert decoding_schema(s, DEFAULT_LADDER[0])["properties"]["free"] == {"description": "anything"}


def test_allof_branches_stay_open_so_the_schema_stays_satisfiable():
    s = {
        "type": "object",
        "properties": {"value": {"allOf": [{"$ref": "#/definitions/A"}, {"$ref": "#/definitions/B"}]}},
        "required": ["value"],
        "definitions": {
            "A": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            "B": {"type": "object", "properties": {"b": {"type": "number"}}, "required": ["b"]},
        },
    }
    d = decoding_schema(s, DEFAULT_LADDER[2])
    assert "additionalProperties" not in d["definitions"]["A"] and "additionalProperties" not in d["definitions"]["B"]
    jsonschema.validate({"value": {"a": "x", "b": 1}}, d)


def test_minimal_rung_keeps_properties_that_a_ref_points_into():
    s = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"$ref": "#/properties/a"}}, "required": ["b"]}
    d = decoding_schema(s, DEFAULT_LADDER[2])
    assert set(d["properties"]) == {"a", "b"}


def test_numbers_get_bounds_and_later_rungs_round_them():
    s = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5}, "x": {"type": "number"},
                                          "tiny": {"type": "number", "minimum": 0, "maximum": 0.5}}}
    d = decoding_schema(s, DEFAULT_LADDER[0])["properties"]
    assert d["n"] == {"type": "integer", "minimum": 5, "maximum": 10**9}
    assert d["x"]["minimum"] == -(10**9) and "multipleOf" not in d["x"]
    d = decoding_schema(s, DEFAULT_LADDER[1])["properties"]
    assert d["x"]["multipleOf"] == 0.01 and "multipleOf" not in d["tiny"]


def test_retry_rungs_cap_pattern_strings_that_the_pattern_leaves_open():
    from synthloom.llm.structured import Ladder

    schema = {"type": "object", "properties": {
        "accession": {"type": "string", "pattern": "^SAM(D|N|E([AG]?))[0-9]+$"},
        "schema": {"type": "string", "pattern": "(http|https)://www(dev)?.ebi.ac.uk/biosamples/schemas/structured/.*"},
        "duo": {"type": "string", "pattern": "^DUO:[0-9]{7}$"}}, "required": ["accession", "schema", "duo"]}
    first = decoding_schema(schema, Ladder(max_string=None, max_items=None, minimal=False, temperature=1.0))
    assert "maxLength" not in first["properties"]["accession"]  # the first try is left free
    last = decoding_schema(schema, DEFAULT_LADDER[-1])["properties"]
    assert last["accession"]["maxLength"] == 30
    assert last["schema"]["maxLength"] == 67  # the URL's shortest match (51) + 16: the cap must not make it unmatchable
    assert "maxLength" not in last["duo"]  # the pattern bounds itself
