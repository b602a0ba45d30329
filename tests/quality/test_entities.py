"""Entity rules, grounding checks and the document gates: each with inputs that must pass and must fail."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from fakes import ScriptedLLM
from synthloom.config.documents import (
    DateRule,
    EntitiesGateConfig,
    GroundingGateConfig,
    RecoverableGateConfig,
    SupportGateConfig,
)
from synthloom.errors import SchemaError
from synthloom.llm.jsontext import validator as schema_validator
from synthloom.quality import build_gate, GateContext
from synthloom.quality.grounding import grounding_problem
from synthloom.quality.rules import (
    check_rule,
    dates_in,
    invented_values,
    misattributed_values,
    missing_values,
    numbers_in,
    parse_number,
    quote_in,
    resolve,
    validate_object,
)
from synthloom.records import Record, Rejection

INVOICE = {
    "invoice_number": "NW-1001",
    "invoice_date": "2024-03-05",
    "buyer": "Bluebird Dental Clinic",
    "line_items": [{"description": "Paper", "amount": 130.0}, {"description": "Toner", "amount": 148.0},
                   {"description": "Organizer", "amount": 36.0}],
    "total": 314.0,
}
DOCUMENT = """NORTHWIND OFFICE SUPPLY CO.
Invoice number: NW-1001    Invoice date: March 5, 2024
Bill to: Bluebird Dental Clinic
Paper $130.00 / Toner $148.00 / Organizer $36.00
Total due: $314.00"""


def run(coro):
    return asyncio.run(coro)


def test_resolve_paths():
    assert resolve(INVOICE, "total") == [("total", 314.0)]
    assert [v for _, v in resolve(INVOICE, "line_items[].amount")] == [130.0, 148.0, 36.0]
    assert resolve(INVOICE, "line_items[1].description") == [("line_items[1].description", "Toner")]
    assert resolve(INVOICE, "missing.field") == [] and resolve(INVOICE, "line_items[9].amount") == []


@pytest.mark.parametrize("value,ok", [("2024-02-29", True), ("2023-02-29", False), ("2024-13-01", False),
                                      ("05/03/2024", False), ("yesterday", False)])
def test_date_rule_real_dates(value, ok):
    fails = check_rule({"d": value}, {"rule": "date", "field": "d"})
    assert (not fails) is ok
    if not ok:
        assert fails[0].reason == "rule:date" and "not a real date" in fails[0].detail


def test_date_rule_formats_and_bounds():
    rule = DateRule(field="d", formats=["%d/%m/%Y", "%Y-%m-%d"], min="2020-01-01", max="2025-12-31", name="issued")
    assert check_rule({"d": "05/03/2024"}, rule) == []
    fails = check_rule({"d": "1999-01-01"}, rule)
    assert fails and fails[0].reason == "rule:issued" and "outside" in fails[0].detail


@pytest.mark.parametrize("value,ok", [(10, True), (0, True), (1e6, True), (-1, False), (1e6 + 1, False),
                                      ("$1,200.00", True), ("lots", False)])
def test_range_rule(value, ok):
    assert (not check_rule({"x": value}, {"rule": "range", "field": "x", "min": 0, "max": 1e6})) is ok


def test_range_rule_applies_to_every_item():
    fails = check_rule({"items": [{"q": 1}, {"q": -2}, {"q": 3}]}, {"rule": "range", "field": "items[].q", "min": 0})
    assert len(fails) == 1 and "items[1].q=-2" in fails[0].detail


def test_sum_rule():
    rule = {"rule": "sum", "items": "line_items[].amount", "total": "total", "tolerance": 0.01}
    assert check_rule(INVOICE, rule) == []
    wrong = {**INVOICE, "total": 320.0}
    fails = check_rule(wrong, rule)
    assert fails and "add up to 314.00 but total is 320.00" in fails[0].detail
    assert check_rule({**INVOICE, "total": 314.005}, rule) == []  # within tolerance
    assert check_rule({"line_items": []}, rule) == []  # no total: nothing to compare


def test_in_document_rule():
    assert check_rule(INVOICE, {"rule": "in_document", "fields": ["invoice_number", "buyer"]}, DOCUMENT) == []
    # case, spacing and punctuation do not matter; a date may be written another way
    assert check_rule({"b": "bluebird  dental clinic.", "d": "2024-03-05"}, {"rule": "in_document"}, DOCUMENT) == []
    fails = check_rule({"buyer": "Redwood Clinic"}, {"rule": "in_document"}, DOCUMENT)
    assert fails and "does not occur in the document" in fails[0].detail
    # numbers only when asked
    assert check_rule({"t": 999.0}, {"rule": "in_document"}, DOCUMENT) == []
    assert check_rule({"t": 999.0}, {"rule": "in_document", "numbers": True}, DOCUMENT)
    assert check_rule({"t": 314}, {"rule": "in_document", "numbers": True}, DOCUMENT) == []
    # a partial word is not an occurrence
    assert check_rule({"b": "Blue"}, {"rule": "in_document"}, DOCUMENT)


def test_pattern_rule():
    rule = {"rule": "pattern", "field": "invoice_number", "regex": r"[A-Z]{2}-\d{4}"}
    assert check_rule(INVOICE, rule) == []
    assert check_rule({"invoice_number": "nw1001"}, rule)


def test_validate_object_schema_first_then_rules():
    schema = {"type": "object", "properties": {"d": {"type": "string", "format": "date"}, "n": {"type": "integer"}},
              "required": ["d", "n"]}
    v = schema_validator(schema)
    assert validate_object({"d": "2024-01-31", "n": 1}, validator=v) is None
    assert validate_object({"d": "2024-01-31"}, validator=v)[0] == "schema:required"
    assert validate_object({"d": "2024-02-30", "n": 1}, validator=v)[0] == "schema:format"  # not a real date
    reason, detail = validate_object({"d": "2024-01-31", "n": 5}, validator=v,
                                     rules=[{"rule": "range", "field": "n", "max": 3, "name": "small_n"}])
    assert reason == "rule:small_n" and "n=5" in detail
    with pytest.raises(SchemaError, match="invalid JSON schema"):
        schema_validator({"type": "objekt"})


@pytest.mark.parametrize("raw,value", [("1,234.50", 1234.5), ("1.234,50", 1234.5), ("1 234,5", 1234.5),
                                       ("314", 314.0), ("-12.5", -12.5), ("12,5", 12.5), ("abc", None)])
def test_parse_number(raw, value):
    assert parse_number(raw) == value


def test_numbers_and_dates_in_text():
    nums = numbers_in("Total $1,234.50 for 3 items, ref 2024")
    assert (1234.5, True) in nums and (3.0, False) in nums
    found = dates_in("Issued 2024-03-05, due April 4, 2024; paid 5th of May 2024 and 04/06/2024.")
    assert {dt.date(2024, 3, 5), dt.date(2024, 4, 4), dt.date(2024, 5, 5)} <= found
    assert {dt.date(2024, 6, 4), dt.date(2024, 4, 6)} <= found  # dd/mm and mm/dd both read
    assert dates_in("version 2024-13-45 is not a date") == set()


def test_quote_in():
    text = "Refunds are returned to the original payment method within 5 to 10 business days."
    assert quote_in("refunds are returned to the original  payment method", [text])
    assert quote_in("\u201cRefunds are returned\u201d", [text])  # typographic quotes folded
    assert quote_in("Refunds are returned ... within 5 to 10 business days.", [text])
    assert not quote_in("Refunds are returned within 3 days.", [text])
    assert not quote_in("business days ... Refunds are returned", [text])  # out of order
    assert not quote_in("", [text])
    assert quote_in("the **Team plan** costs $12", ["The Team plan costs $12 per user."])  # markup only differs


def test_grounding_problem():
    ctx = ["Files stay in the trash for 30 days on every plan."]
    assert grounding_problem(["Files stay in the trash for 30 days"], ctx) is None
    assert grounding_problem(["Files stay in the trash for 60 days"], ctx)[0] == "grounding:not_verbatim"
    assert grounding_problem([], ctx, "factual")[0] == "grounding:no_evidence"
    assert grounding_problem([], ctx, "unanswerable") is None
    assert grounding_problem(["x"], [], "factual")[0] == "grounding:no_context"


def test_missing_and_invented_values():
    assert missing_values(INVOICE, DOCUMENT) == []
    lost = missing_values({**INVOICE, "buyer": "Maple Court HOA"}, DOCUMENT)
    assert lost == [("buyer", "Maple Court HOA")]
    assert missing_values({**INVOICE, "total": 315.0}, DOCUMENT) == [("total", 315.0)]
    assert missing_values({**INVOICE, "buyer": "Maple"}, DOCUMENT, skip=["buyer"]) == []
    assert missing_values({"n": "nw-1001"}, DOCUMENT, match="exact") == [("n", "nw-1001")]
    assert missing_values({"n": "nw-1001"}, DOCUMENT, match="normalized") == []
    assert invented_values(INVOICE, DOCUMENT) == []
    extra = DOCUMENT + "\nLate fee of $25.00 applies after April 4, 2024."
    assert invented_values(INVOICE, extra) == ["amount 25", "date 2024-04-04"]
    assert invented_values(INVOICE, extra, kinds=["date"]) == ["date 2024-04-04"]


LABEL = {"invoice_number": "AP-8459", "invoice_date": "2014-10-27", "due_date": "2014-10-27",
         "seller": "Oakridge Pharmacy", "buyer": "Pinecrest Accounting", "total": 47550.0}


def test_values_stated_under_another_fields_name():
    right = ("invoice_number: AP-8459\nInvoice date: 2014-10-27\nDue date: 2014-10-27\nseller: Oakridge Pharmacy\n"
             "buyer: Pinecrest Accounting\ntotal: 47550.0")
    assert misattributed_values(LABEL, right) == []
    swapped = right.replace("seller: Oakridge Pharmacy", "seller: Pinecrest Accounting").replace(
        "buyer: Pinecrest Accounting", "buyer: Oakridge Pharmacy")
    assert misattributed_values(LABEL, swapped) == ["seller: 'Pinecrest Accounting' is the label's buyer",
                                                    "buyer: 'Oakridge Pharmacy' is the label's seller"]
    # the due date's value is in the document, but only as the invoice date (written twice, no due date)
    twice = right.replace("Due date: 2014-10-27", "invoice_date: 2014-10-27")
    assert misattributed_values(LABEL, twice) == ["due_date is not stated: '2014-10-27' appears only as invoice_date"]
    # prose, or keys that are no field's name, say nothing about which field a value belongs to
    assert misattributed_values(LABEL, twice.replace("invoice_date: 2014-10-27", "Payment is due 2014-10-27")) == []
    assert misattributed_values(LABEL, "Bill to: Oakridge Pharmacy\nFrom: Pinecrest Accounting") == []
    assert misattributed_values(LABEL, swapped, skip=["seller", "buyer"]) == []
    assert misattributed_values(INVOICE, DOCUMENT) == []


def rec(data, **meta):
    return Record(data=data, meta=meta)


def build(cfg):
    return build_gate(cfg, ".")


def test_entities_gate():
    gate = build(EntitiesGateConfig(target="extraction", document="document",
                                    rules=[{"rule": "sum", "items": "line_items[].amount", "total": "total"},
                                           {"rule": "in_document", "fields": ["buyer"]}]))
    ok = rec({"document": DOCUMENT, "extraction": INVOICE})
    assert run(gate.check(ok, GateContext())) is ok
    bad = run(gate.check(rec({"document": DOCUMENT, "extraction": {**INVOICE, "total": 1.0}}), GateContext()))
    assert isinstance(bad, Rejection) and bad.stage == "validate" and bad.reason == "rule:sum"
    bad = run(gate.check(rec({"document": "other text", "extraction": INVOICE}), GateContext()))
    assert bad.reason == "rule:in_document"
    schema_gate = build(EntitiesGateConfig(schema={"type": "object", "required": ["total"]}))
    assert run(schema_gate.check(rec({"x": 1}), GateContext())).reason == "schema:required"
    assert run(schema_gate.check(rec({"total": 1}), GateContext())).data == {"total": 1}


def test_grounding_gate_reads_contexts_from_lineage():
    gate = build(GroundingGateConfig())
    row = {"question": "How long?", "answer": "30 days", "evidence": ["Files stay in the trash for 30 days"],
           "kind": "factual"}
    ctxs = ["Files stay in the trash for 30 days on every plan."]
    assert isinstance(run(gate.check(rec(row, contexts=ctxs), GateContext())), Record)
    bad = run(gate.check(rec({**row, "evidence": ["Files stay forever"]}, contexts=ctxs), GateContext()))
    assert bad.reason == "grounding:not_verbatim"
    unans = {**row, "evidence": [], "kind": "unanswerable"}
    assert isinstance(run(gate.check(rec(unans, contexts=ctxs), GateContext())), Record)


def test_recoverable_gate():
    gate = build(RecoverableGateConfig(reject_invented=["amount"]))
    assert isinstance(run(gate.check(rec({"label": INVOICE, "document": DOCUMENT}), GateContext())), Record)
    lost = run(gate.check(rec({"label": {**INVOICE, "buyer": "Someone Else"}, "document": DOCUMENT}), GateContext()))
    assert lost.reason == "rule:recoverable" and "buyer='Someone Else'" in lost.detail
    swapped = run(gate.check(rec({"label": {**INVOICE, "seller": "Northwind Office Supply Co."},
                                  "document": DOCUMENT.replace("Bill to:", "Seller:")}), GateContext()))
    assert swapped.reason == "rule:misattributed" and "the label's buyer" in swapped.detail
    invented = run(gate.check(rec({"label": INVOICE, "document": DOCUMENT + " Tip: $9.99"}), GateContext()))
    assert invented.reason == "rule:invented" and "9.99" in invented.detail


def test_support_gate_uses_a_constrained_yes_no_call():
    answers = iter(["yes", "no", "maybe"])
    llm = ScriptedLLM(lambda req: {"verdict": next(answers)} if True else None)
    gate = build(SupportGateConfig())
    row = {"question": "How long do files stay in the trash?", "answer": "30 days",
           "evidence": ["Files stay in the trash for 30 days on every plan."], "kind": "factual"}
    ok = run(gate.check(rec(row), GateContext(llm=llm)))
    assert isinstance(ok, Record) and ok.meta["scores"]["support"] == "yes"
    req = llm.requests[0]
    assert req.json_schema["properties"]["verdict"]["enum"] == ["yes", "no"] and req.temperature == 0
    assert "<evidence>" in req.messages[-1]["content"] and "30 days" in req.messages[-1]["content"]
    assert run(gate.check(rec(row), GateContext(llm=llm))).reason == "unsupported"
    assert run(gate.check(rec(row), GateContext(llm=llm))).reason == "judge_unusable"
    # unanswerable rows are not judged for support
    n = len(llm.requests)
    assert isinstance(run(gate.check(rec({**row, "kind": "unanswerable"}), GateContext(llm=llm))), Record)
    assert len(llm.requests) == n


def test_distinct_rule():
    rule = {"rule": "distinct", "fields": ["seller", "buyer"]}
    assert check_rule({"seller": "Acme Ltd", "buyer": "Oak School"}, rule) == []
    fails = check_rule({"seller": "Acme Ltd", "buyer": "ACME LTD."}, rule)
    assert fails and fails[0].reason == "rule:distinct" and "buyer repeats seller" in fails[0].detail
    assert check_rule({"seller": "Acme Ltd"}, rule) == []  # a missing field cannot repeat


def test_order_rule_dates_numbers_and_gaps():
    from synthloom.quality.rules import check_rules

    rule = {"rule": "order", "field": "due", "after": "issued", "within_days": 30}
    assert check_rules({"issued": "2024-01-10", "due": "2024-02-01"}, [rule]) == []
    (late,) = check_rules({"issued": "2024-01-10", "due": "2024-03-01"}, [rule])
    assert late.reason == "rule:order" and "51 days after issued" in late.detail and "at most 30" in late.detail
    (early,) = check_rules({"issued": "2024-01-10", "due": "2023-12-31"}, [rule])
    assert "is not after issued" in early.detail
    same_day = {"rule": "order", "field": "due", "after": "issued", "min_days": 1}
    assert check_rules({"issued": "2024-01-10", "due": "2024-01-10"}, [same_day])
    # numbers order too; before is the mirror of after
    assert check_rules({"lo": 3.5, "hi": 9}, [{"rule": "order", "field": "lo", "before": "hi"}]) == []
    assert check_rules({"lo": 12, "hi": 9}, [{"rule": "order", "field": "lo", "before": "hi"}])
    (odd,) = check_rules({"lo": "soon", "hi": 9}, [{"rule": "order", "field": "lo", "before": "hi"}])
    assert "cannot be ordered" in odd.detail
    assert check_rules({"hi": 9}, [{"rule": "order", "field": "lo", "before": "hi"}]) == []  # absent: the schema's job


def test_order_rule_config_needs_one_side():
    from pydantic import TypeAdapter, ValidationError

    from synthloom.config.documents import EntityRule

    with pytest.raises(ValidationError, match="exactly one of `after` or `before`"):
        TypeAdapter(EntityRule).validate_python({"rule": "order", "field": "a"})
