"""The documents technique's checks against junk a reader rejects: a record value that does not read as its
field (quality/value_fit.py), a document that is an example's text with its values swapped, and a labelled
number found only inside a date or a clock time."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import ScriptedLLM
from synthloom.config.documents import DocumentsTechnique
from synthloom.generators import build_generator
from synthloom.generators.base import GenContext
from synthloom.generators.documents import copied_text, slotted
from synthloom.quality.recoverable import recoverable_problem
from synthloom.quality.text import without_dates
from synthloom.quality.value_fit import ValueFit, clock_time
from synthloom.records import Record

# a domain the library had not seen: plant-swap stall notices
SCHEMA = {"type": "object", "additionalProperties": False,
          "required": ["stall", "plant", "spot", "day", "opens", "pots"],
          "properties": {"stall": {"type": "string"}, "plant": {"type": "string"},
                         "spot": {"type": "string", "description": "where in the market"},
                         "day": {"type": "string", "format": "date"}, "opens": {"type": "string"},
                         "pots": {"type": "integer"}, "kind": {"type": "string", "enum": ["cutting", "seedling"]},
                         "code": {"type": "string", "pattern": "^[A-Z]{2}$"}}}
EXAMPLES = [
    {"label": {"stall": "Fern Corner", "plant": "maidenhair fern", "spot": "North Gate", "day": "2024-04-06",
               "opens": "09:30", "pots": 6},
     "document": "FERN CORNER\nBring a cutting, take a maidenhair fern home.\nFind us at North Gate on 2024-04-06 "
                 "from 09:30.\nWe have 6 pots to swap, first come first served."},
    {"label": {"stall": "Sill Swappers", "plant": "spider plant", "spot": "the Old Bandstand", "day": "2024-05-11",
               "opens": "14:00", "pots": 9},
     "document": "Sill Swappers are back!\nThis month: spider plant babies, 9 pots of them.\n"
                 "Saturday 2024-05-11, 14:00, by the Old Bandstand. Leave a plant, take a plant."},
]
LABEL = {"stall": "Moss & More", "plant": "string of pearls", "spot": "Station Arch", "day": "2024-06-01",
         "opens": "10:15", "pots": 4}


def fit() -> ValueFit:
    return ValueFit(SCHEMA, [ex["label"] for ex in EXAMPLES])


# ---- record values that do not read as their field (only from the schema and its examples)

def test_a_value_of_symbols_and_digits_in_a_words_field_is_rejected_naming_the_field():
    reason, detail = fit().problem({**LABEL, "spot": "P.1,49"})
    assert reason == "value:not_words" and "spot='P.1,49'" in detail and "'North Gate'" in detail


def test_a_value_cut_or_carrying_debris_is_rejected():
    assert fit().problem({**LABEL, "stall": "Friends of the Young Growers', "})[0] == "value:cut"
    assert fit().problem({**LABEL, "plant": 'fern", "pots": 3'})[0] in ("value:debris", "value:cut")


def test_a_clock_time_field_gets_a_real_time():
    assert fit().problem({**LABEL, "opens": "27:90"})[0] == "value:not_a_time"
    assert fit().problem({**LABEL, "opens": "soon"})[0] == "value:not_a_time"
    assert all(clock_time(t) for t in ("9:15", "18:30", "7.30 pm", "6 pm"))
    assert not any(clock_time(t) for t in ("24:00", "13 pm", "10:75", "1030"))


def test_plausible_values_pass_and_fields_the_schema_fixes_are_left_to_it():
    assert fit().problem(LABEL) is None
    assert fit().problem({**LABEL, "spot": "Stall 12, Row B", "stall": "St. Mary's Growers"}) is None
    # enum and pattern are the schema's to check; a field without examples is not judged as words
    assert fit().problem({**LABEL, "kind": "x.1", "code": "1,2"}) is None
    assert ValueFit(SCHEMA, []).problem({**LABEL, "spot": "P.1,49"}) is None
    assert ValueFit(SCHEMA, []).problem({**LABEL, "opens": "27:90"}) is None
    # a field whose examples are codes is not asked for words
    codes = ValueFit(SCHEMA, [{**EXAMPLES[0]["label"], "spot": "B-12"}, {**EXAMPLES[1]["label"], "spot": "C-4"}])
    assert codes.problem({**LABEL, "spot": "D-7"}) is None


def test_the_manifest_says_what_each_field_is_asked_to_be():
    lines = fit().lines()
    assert "spot: words (its 2 examples)" in lines and "opens: a clock time (its 2 examples)" in lines
    assert not any(line.startswith(("kind", "code", "day", "pots")) for line in lines)


# ---- a number found only inside a date or a time (both forms' value check)

def test_a_number_only_inside_a_date_or_a_time_is_missing():
    label = {"stall": "Moss & More", "day": "2024-12-01", "opens": "12:30", "pots": 12}
    for doc in ("Moss & More, 2024-12-01 at 12:30.", "Moss & More, Dec 12, 2024 at 12:30.",
                "Moss & More, 2024-12-01 at 12.30 pm."):
        problem = recoverable_problem(label, doc)
        assert problem is not None and problem.reason == "rule:recoverable" and "pots='12'" in problem.detail, doc
    assert recoverable_problem(label, "Moss & More, 2024-12-01 at 12:30: 12 pots.") is None
    assert recoverable_problem({"pots": "12"}, "Open 2024-12-01") is not None  # a string of digits too
    assert without_dates("on 2024-12-01 at 12:30, 7 pm, 3 pots") == "on            at      ,     , 3 pots"


def test_the_chat_form_rejects_a_document_whose_number_is_only_in_the_date():
    label = {**LABEL, "day": "2024-06-04", "pots": 4}
    doc = "MOSS & MORE\nString of pearls at Station Arch on 2024-06-04 from 10:15. Come early!"
    gen = build_generator(config(prompt_form="chat"), Path("."))
    (rej,) = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(lambda r: label if r.json_schema else doc))))
    assert rej.reason == "rule:recoverable" and "pots='4'" in rej.detail


# ---- documents that copy an example's text

def config(**kw):
    return DocumentsTechnique.model_validate({"technique": "documents", "schema": SCHEMA, "names": "model",
                                              "document_type": "plant swap notice", "examples": EXAMPLES, **kw})


class BaseModelLLM(ScriptedLLM):
    prompt_style = "completion"


def test_single_digit_numbers_become_slots_but_not_inside_dates_or_times():
    assert slotted(EXAMPLES[0]["label"], EXAMPLES[0]["document"]).endswith("We have {pots} pots to swap, first come "
                                                                           "first served.")
    assert slotted({"pots": 3}, "On 2024-03-03 at 3:30, 3 pots") == "On 2024-03-03 at 3:30, {pots} pots"


def test_an_examples_text_with_its_values_swapped_is_rewritten_naming_the_example():
    copy = ("SILL SWAPPERS ARE BACK!\nThis month: {plant} babies, {pots} pots of them.\n"
            "Saturday {day}, {opens}, by {spot}. Leave a plant, take a plant.").replace("SILL SWAPPERS", "{stall}")
    own = "{stall} swap day\nSwap your spare {plant} at {spot}.\n{day}, doors at {opens}; {pots} pots to give away."
    docs = iter([copy, own])
    llm = BaseModelLLM(lambda req: LABEL if req.json_schema is not None else next(docs))
    rej, rec = asyncio.run(build_generator(config(reject_copies=True), Path(".")).produce(0, GenContext(llm=llm)))
    assert rej.reason == "copied_example" and "example 2's text" in rej.detail
    assert isinstance(rec, Record) and rec.data["document"].startswith("Moss & More swap day")
    # each write shows the examples in a seeded order, recorded with the record
    assert sorted(rec.meta["examples_shown"]) == [1, 2]


def test_copy_share_reads_order_and_ignores_short_documents():
    shown = [slotted(ex["label"], ex["document"]) for ex in EXAMPLES]
    assert copied_text(shown[1].replace("Leave a plant, take a plant.", "Leave one, take one."), shown)[0] == 1
    assert copied_text("{stall}: {plant} at {spot}", shown) is None  # a line or two
    assert copied_text(" ".join(reversed(shown[1].split())), shown) is None  # the same words, another order


def test_the_example_order_varies_between_writes():
    gen = build_generator(config(), Path("."))
    orders = {tuple(gen.shown_order(GenContext(llm=None).rng(slot, "examples:0"))) for slot in range(12)}
    assert orders == {(0, 1), (1, 0)}


def test_a_line_holding_its_own_fields_value_states_the_others_on_it_too():
    from synthloom.quality.rules import misattributed_values

    label = {"pots": 2, "price": 40, "stall": "Moss & More"}
    assert misattributed_values(label, "Moss & More\nPots: 2 - paid 40") == []
    # a value standing in for the key's own value is still misattributed
    assert misattributed_values(label, "Moss & More\nPots: 40") != []


def test_a_capital_letter_at_the_end_of_a_name_is_no_cut():
    assert fit().problem({**LABEL, "spot": "Hall B, Row A"}) is None
    assert fit().problem({**LABEL, "stall": "A.A.A"})[0] == "value:not_words"


def test_the_last_try_may_copy_so_a_record_is_not_lost_to_the_copy_check():
    copy = ("{stall} are back!\nThis month: {plant} babies, {pots} pots of them.\n"
            "Saturday {day}, {opens}, by {spot}. Leave a plant, take a plant.")
    llm = BaseModelLLM(lambda req: LABEL if req.json_schema is not None else copy)
    rej, rec = asyncio.run(build_generator(config(write_tries=2, reject_copies=True), Path(".")).produce(
        0, GenContext(llm=llm)))
    # off (the default): the copy is kept at once
    (kept,) = asyncio.run(build_generator(config(), Path(".")).produce(0, GenContext(llm=llm)))
    assert isinstance(kept, Record) and kept.meta["examples_shown"] == [1, 2]
    assert rej.reason == "copied_example" and isinstance(rec, Record) and rec.meta["write_attempt"] == 2
