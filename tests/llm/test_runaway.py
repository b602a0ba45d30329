"""The shared runaway defences: caps from the examples, placeholders, copies; nothing keyed on a field's name."""
from __future__ import annotations

import re

from synthloom.generators.schema_io import field_summary, limits_in_words
from synthloom.llm import narrowing, runaway
from synthloom.llm.structured import DEFAULT_LADDER, decoding_schema, validation_errors

SCHEMA = {"type": "object", "properties": {
    "invoice_number": {"type": "string", "maxLength": 20},
    "invoice_date": {"type": "string", "format": "date"},
    "phone_number": {"type": "string"},
    "total": {"type": "number", "minimum": 1, "maximum": 100000},
    "body": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
}}


def test_first_try_adds_no_rule_of_its_own():
    """Without what the user wrote, the first try narrows nothing by a field's name or a guess: no id pattern,
    no date range, no rounding (the generic bounds and runaway breakers aside)."""
    props = runaway.attempt_schema(SCHEMA, 0)["properties"]
    assert "pattern" not in props["invoice_number"] and "pattern" not in props["invoice_date"]
    assert "multipleOf" not in props["total"]
    assert "maxLength" not in props["body"] and "maxItems" not in props["tags"]  # first try: no guessed caps
    # what narrowing.learn finds (here: format: date) is applied on every try
    learned = narrowing.learn(SCHEMA, [])
    props = runaway.attempt_schema(SCHEMA, 0, narrowings=learned)["properties"]
    date = re.compile(props["invoice_date"]["pattern"])
    assert date.match("2024-02-29") and not date.match("0260-10-13") and not date.match("2024-04-31")
    assert "pattern" not in props["invoice_number"] and "multipleOf" not in props["total"]
    # the bare schema-coverage ladder stays as it was
    assert "pattern" not in decoding_schema(SCHEMA, DEFAULT_LADDER[0])["properties"]["invoice_date"]


def test_ladder_caps_come_from_the_examples():
    examples = [{"body": "x" * 90, "tags": ["a", "b", "c", "d"]}, {"body": "short", "tags": []}]
    hints = runaway.length_hints(SCHEMA, examples)
    assert hints["/properties/body"] == 90 and hints["/properties/tags"] == 4
    props = runaway.attempt_schema(SCHEMA, 1, hints)["properties"]
    assert props["body"]["maxLength"] == 180 and props["tags"]["maxItems"] == 5
    # without examples, the rung's own caps
    assert runaway.attempt_schema(SCHEMA, 1)["properties"]["body"]["maxLength"] == DEFAULT_LADDER[0].max_string
    # every narrowed schema still accepts only instances of the original
    assert not validation_errors({"invoice_date": "2024-02-29", "total": 12.5}, SCHEMA)


def test_limits_are_stated_in_words():
    assert limits_in_words({"type": "string", "minLength": 5, "maxLength": 80}) == "a short line, 5 to 80 characters"
    assert limits_in_words({"type": "array", "maxItems": 3}) == "at most 3 items"
    assert limits_in_words({"type": "number", "minimum": 0, "maximum": 10000}) == ""  # a stated max gets copied
    assert limits_in_words({"type": "string", "enum": ["a"]}) == ""
    assert any("at most 20 characters" in line for line in field_summary(SCHEMA))


def test_placeholders_are_caught():
    from synthloom.generators.base import parse_object
    from synthloom.llm.types import GenerationResult
    from synthloom.quality.canned import placeholder_paths

    bad = {"invoice_number": "${:d}", "seller": "XYZ", "buyer": "Xxx", "note": "Abc Bakery", "code": "USD"}
    assert placeholder_paths(bad) == ["invoice_number", "seller", "buyer"]
    _, rejection = parse_object(GenerationResult(text="{}", parsed=bad), {})
    assert rejection.reason == "placeholder_value" and "seller='XYZ'" in rejection.detail


def test_values_copied_from_the_schemas_own_examples_are_found():
    schema = {"type": "object", "properties": {
        "invoice_number": {"type": "string", "description": "the invoice's identifier, e.g. AP-0093"},
        "seller": {"type": "string", "examples": ["Acme Corp"]},
        "city": {"type": "string", "description": "for example: Lyon, Paris"},
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string", "default": "SKU-1"}}}},
        "note": {"type": "string", "description": "anything a person would write"},
    }}
    shown = runaway.schema_examples(schema)
    assert shown["invoice_number"] == {"ap-0093"} and "acme corp" in shown["seller"] and "lyon" in shown["city"]
    assert "note" not in shown
    copied = {"invoice_number": "ap-0093", "seller": "Acme Corp", "city": "Lyon", "lines": [{"sku": "SKU-1"}],
              "note": "AP-0093"}
    assert runaway.copied_examples(copied, shown) == ["invoice_number", "seller", "city", "lines[].sku"]
    own = {"invoice_number": "AP-0094", "seller": "Harbor Bakery", "city": "Nantes", "lines": [{"sku": "SKU-2"}]}
    assert runaway.copied_examples(own, shown) == []


def test_record_problem_is_the_one_plausibility_check_for_invented_records():
    schema = {"type": "object", "properties": {
        "invoice_number": {"type": "string", "description": "e.g. AP-0093"},
        "status": {"type": "string", "enum": ["paid in full now", "open"]},
        "note": {"type": "string"}, "lines": {"type": "array", "items": {"type": "object", "properties": {
            "text": {"type": "string"}}}}}}
    examples = [{"invoice_number": "AP-0001", "status": "paid in full now", "note": "Thanks for your order today",
                 "lines": [{"text": "Two boxes of pens"}]}]
    shown = runaway.example_values(schema, examples)
    assert shown["note"] == {"thanks for your order today"} and shown["lines[].text"] == {"two boxes of pens"}
    assert "status" not in shown  # a fixed choice may repeat the example
    assert "ap-0093" in shown["invoice_number"] and "ap-0001" not in shown["invoice_number"]  # one word: not text
    ok = {"invoice_number": "AP-0002", "status": "paid in full now", "note": "Ships on Monday",
          "lines": [{"text": "Two boxes of pens and a ruler"}]}
    assert runaway.record_problem(ok, shown) is None
    assert runaway.record_problem({**ok, "note": " THANKS for your order today "}, shown) == \
        ("copied_example", "an example's value, copied: note=' THANKS for your order today '")
    assert runaway.record_problem({**ok, "lines": [{"text": "two boxes of pens"}]}, shown)[1].endswith("lines[].text")
    # no cross-field rule is guessed from names: those are the recipe's `rules:` (quality/rules.py)
    assert runaway.record_problem({"seller": "Harbor Bakery", "buyer": "harbor bakery"}, shown) is None
    assert runaway.record_problem({"invoice_date": "2024-05-02", "due_date": "2024-04-30"}, shown) is None


def test_a_copy_with_other_punctuation_is_still_a_copy():
    """Read in `make demo` (stop 24): the subject "Wrong company name on invoice?" passed as new, the
    few-shot example's subject with a question mark added."""
    shown = runaway.example_values({"type": "object", "properties": {"subject": {"type": "string"}}},
                                   [{"subject": "Wrong company name on invoice"}], schema_own=False)
    assert runaway.copied_examples({"subject": "Wrong company name on invoice?"}, shown) == ["subject"]
    assert runaway.copied_examples({"subject": "wrong  company name, on invoice!"}, shown) == ["subject"]
    assert runaway.copied_examples({"subject": "Wrong company name on my invoice"}, shown) == []


def test_a_near_copy_of_an_example_is_a_copy_and_a_new_text_on_the_same_theme_is_not():
    # a hiking guide's few-shot example; the 270M writer swapped one word ("waterfall" -> "footbridge") or
    # added a sentence, and the exact comparison let both through
    schema = {"type": "object", "properties": {"summary": {"type": "string"}, "name": {"type": "string"}}}
    example = {"name": "Millstream Loop", "summary": "Follows the stream past two old mills and a waterfall. "
                                                     "The boardwalk is slippery after rain."}
    shown = runaway.example_values(schema, [example], schema_own=False)
    swapped = {"name": "Mill Loop", "summary": "Follows the stream past two old mills and a footbridge. "
                                               "The boardwalk is slippery after rain."}
    reason, detail = runaway.record_problem(swapped, shown)
    assert reason == "copied_example" and "footbridge" in detail and "nearly: the example 'follows the stream" in detail
    longer = {"name": "Mill Loop", "summary": example["summary"] + " Check the forecast and bring a compass!"}
    assert runaway.record_problem(longer, shown)[0] == "copied_example"
    own = {"name": "Cliff Path", "summary": "Climbs from the harbour past two old lime kilns to the headland. "
                                            "The path is narrow and slippery after rain."}
    assert runaway.record_problem(own, shown) is None
    short = runaway.example_values(schema, [{"summary": "Easy riverside walk"}], schema_own=False)
    assert runaway.record_problem({"summary": "Easy riverside stroll"}, short) is None  # under six words: exact only
