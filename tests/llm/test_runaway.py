"""The shared runaway defences: real dates, identifier-like ids, few decimals, caps from the examples."""
from __future__ import annotations

import re

from synthloom.generators.schema_io import field_summary, limits_in_words
from synthloom.llm import runaway
from synthloom.llm.structured import DEFAULT_LADDER, decoding_schema, validation_errors

SCHEMA = {"type": "object", "properties": {
    "invoice_number": {"type": "string", "maxLength": 20},
    "invoice_date": {"type": "string", "format": "date"},
    "phone_number": {"type": "string"},
    "total": {"type": "number", "minimum": 1, "maximum": 100000},
    "body": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
}}


def test_first_try_defences():
    props = runaway.attempt_schema(SCHEMA, 0)["properties"]
    date = re.compile(props["invoice_date"]["pattern"])
    for ok in ("2024-02-29", "1999-12-31", "2049-06-30"):
        assert date.match(ok)
    for bad in ("0260-10-13", "2024-02-30", "2024-04-31", "2024-13-01", "2150-01-01"):
        assert not date.match(bad)
    ident = re.compile(props["invoice_number"]["pattern"])
    assert ident.match("AP-0093") and ident.match("INV/2024/17") and ident.match("10422")
    assert not ident.match("${:d}") and not ident.match("9" * 40) and not ident.match("#0")
    assert "pattern" not in props["phone_number"]  # a phone number is not an identifier
    assert props["total"]["multipleOf"] == 0.01  # no endless fraction digits
    assert "maxLength" not in props["body"] and "maxItems" not in props["tags"]  # first try: no guessed caps
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


def test_placeholders_and_twin_parties_are_caught():
    from synthloom.generators.base import parse_object
    from synthloom.llm.types import GenerationResult

    bad = {"invoice_number": "${:d}", "seller": "XYZ", "buyer": "Xxx", "note": "Abc Bakery", "code": "USD"}
    assert runaway.placeholder_paths(bad) == ["invoice_number", "seller", "buyer"]
    _, rejection = parse_object(GenerationResult(text="{}", parsed=bad), {})
    assert rejection.reason == "placeholder_value" and "seller='XYZ'" in rejection.detail
    assert runaway.same_party({"seller": "Harbor Bakery", "buyer": "harbor bakery", "d": "2024-01-01"}) == \
        ("seller", "buyer")
    assert runaway.same_party({"seller": "Harbor Bakery", "buyer": "Oak School", "a": "2024-01-01",
                               "b": "2024-01-01"}) is None


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


def test_names_look_like_names_and_dates_keep_their_order():
    schema = {"type": "object", "properties": {"seller": {"type": "string", "maxLength": 40},
                                               "customer_name": {"type": "string"},
                                               "file_name": {"type": "string"}}}
    props = runaway.attempt_schema(schema, 0)["properties"]
    assert props["seller"]["pattern"] == props["customer_name"]["pattern"] == runaway.NAME_PATTERN
    assert "pattern" not in props["file_name"]
    name = re.compile(runaway.NAME_PATTERN)
    assert all(name.match(v) for v in ("Harbor Bakery", "WJ Enterprises", "O'Neil & Sons", "Apple Inc."))
    assert not any(name.match(v) for v in ("G1G1G1G", "1500-500", "P/N", "A-7-8-2-2-1", "harbor"))
    # two parties with one name, whatever the letters
    assert runaway.same_party({"seller": "B2B", "buyer": "b2b"}) == ("seller", "buyer")
    assert runaway.same_party({"currency": "USD", "fee_currency": "USD", "seller": "Oak"}) is None
    assert runaway.date_order({"invoice_date": "2019-01-10", "due_date": "1990-04-30"}) == ("due_date", "invoice_date")
    assert runaway.date_order({"invoice_date": "2019-01-10", "due_date": "2019-02-09"}) is None
    assert runaway.date_order({"start": "2020-05-01", "end": "2020-04-01"}) == ("end", "start")


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
    assert runaway.record_problem({"seller": "Harbor Bakery", "buyer": "harbor bakery"}, shown)[0] == "same_value"
    assert runaway.record_problem({"invoice_date": "2024-05-02", "due_date": "2024-04-30"}, shown) == \
        ("date_order", "due_date='2024-04-30' is before invoice_date='2024-05-02'")


def test_a_due_date_years_after_its_invoice_is_not_a_payment_term():
    """Read in `generate documents -n 20` (stop 24): 8 of 20 invoices due 1-49 years after their date."""
    assert runaway.due_span({"invoice_date": "2012-12-30", "due_date": "2018-10-08"}) == ("due_date", "invoice_date", 2108)
    assert runaway.due_span({"invoice_date": "2021-09-15", "due_date": "2022-09-15"}) is None  # a year: fine
    assert runaway.due_span({"start": "2010-01-01", "end": "2030-01-01"}) is None  # a contract may run long
    assert runaway.due_span({"invoice_date": "2021-02-30", "due_date": "2029-01-01"}) is None  # not a date
    reason, detail = runaway.record_problem({"invoice_date": "1969-11-01", "due_date": "2018-12-10"}, {})
    assert reason == "date_span" and "17936 days after invoice_date='1969-11-01'" in detail


def test_a_copy_with_other_punctuation_is_still_a_copy():
    """Read in `make demo` (stop 24): the subject "Wrong company name on invoice?" passed as new, the
    few-shot example's subject with a question mark added."""
    shown = runaway.example_values({"type": "object", "properties": {"subject": {"type": "string"}}},
                                   [{"subject": "Wrong company name on invoice"}], schema_own=False)
    assert runaway.copied_examples({"subject": "Wrong company name on invoice?"}, shown) == ["subject"]
    assert runaway.copied_examples({"subject": "wrong  company name, on invoice!"}, shown) == ["subject"]
    assert runaway.copied_examples({"subject": "Wrong company name on my invoice"}, shown) == []
