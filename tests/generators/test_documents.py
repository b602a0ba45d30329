"""Documents with known ground truth: a label, a document that states it, and the recoverability check."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from fakes import ScriptedLLM
from synthloom.config.documents import DocumentsTechnique
from synthloom.errors import RecipeError
from synthloom.generators import build_generator
from synthloom.generators.base import GenContext
from synthloom.llm import narrowing, runaway
from synthloom.generators.documents import LABEL_TRIES, record_lines, trim_document
from synthloom.records import Record, Rejection

SCHEMA = {
    "type": "object",
    "properties": {
        "number": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "customer": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "qty": {"type": "integer"}, "price": {"type": "number"}, "amount": {"type": "number"}}}},
        "total": {"type": "number"},
    },
    "required": ["number", "date", "customer", "total"],
}
LABEL = {"number": "INV-7", "date": "2024-05-02", "customer": "Harbor Bakery",
         "items": [{"qty": 2, "price": 3.5, "amount": 7.0}], "total": 7.0}
GOOD_DOC = "Invoice INV-7\nIssued May 2, 2024 to Harbor Bakery\n2 x $3.50 = $7.00\nTotal: $7.00"


def cfg(**kw):
    kw.setdefault("names", "model")  # the scripted label's own names (sampled names: see the test at the end)
    return DocumentsTechnique.model_validate({"technique": "documents", "schema": SCHEMA, "document_type": "invoice",
                                              "attributes": {"tone": ["formal", "friendly"]}, **kw})


def scripted(label, document):
    return ScriptedLLM(lambda req: label if req.json_schema is not None else document)


def produce(gen, llm, slot=0):
    return asyncio.run(gen.produce(slot, GenContext(llm=llm)))


def test_label_then_document_then_check():
    gen = build_generator(cfg(), Path("."))
    llm = scripted(LABEL, GOOD_DOC)
    (rec,) = produce(gen, llm)
    assert isinstance(rec, Record)
    assert rec.data == {"document": GOOD_DOC, "label": LABEL}
    assert rec.meta["attributes"]["tone"] in ("formal", "friendly")
    label_req, write_req = llm.requests
    # the label is decoded under the shared runaway defences and what the schema shows (format: date)
    learned = narrowing.learn(SCHEMA, [])
    assert label_req.json_schema == runaway.attempt_schema(SCHEMA, 0, narrowings=learned) and write_req.json_schema is None
    assert re.fullmatch(label_req.json_schema["properties"]["date"]["pattern"], "2024-05-02")
    assert "pattern" not in label_req.json_schema["properties"]["number"]  # no id rule from a field's name
    # the label reaches the writer inside a <record> block, one value per line
    assert "<record>\nnumber: INV-7" in write_req.messages[-1]["content"]
    assert "customer: Harbor Bakery" in write_req.messages[-1]["content"]
    assert rec.meta["attributes"]["tone"] in write_req.messages[-1]["content"]


def test_document_that_lost_a_value_is_rejected_naming_it():
    gen = build_generator(cfg(), Path("."))
    (rej,) = produce(gen, scripted(LABEL, GOOD_DOC.replace("Harbor Bakery", "a customer")))
    assert isinstance(rej, Rejection) and rej.stage == "validate" and rej.reason == "rule:recoverable"
    assert "customer='Harbor Bakery'" in rej.detail and rej.data["label"] == LABEL


def test_document_that_invented_a_date_is_rejected():
    gen = build_generator(cfg(reject_invented=["date", "amount"]), Path("."))
    (rej,) = produce(gen, scripted(LABEL, GOOD_DOC + "\nPay by June 1, 2024. Late fee $5.00."))
    assert rej.reason == "rule:invented" and "date 2024-06-01" in rej.detail and "amount 5" in rej.detail
    gen = build_generator(cfg(reject_invented=[]), Path("."))
    (ok,) = produce(gen, scripted(LABEL, GOOD_DOC + "\nPay by June 1, 2024."))
    assert isinstance(ok, Record)


def test_exact_match_mode_is_stricter():
    doc = GOOD_DOC.replace("Harbor Bakery", "HARBOR BAKERY")
    assert isinstance(produce(build_generator(cfg(match="normalized"), Path(".")), scripted(LABEL, doc))[0], Record)
    rej = produce(build_generator(cfg(match="exact"), Path(".")), scripted(LABEL, doc))[0]
    assert rej.reason == "rule:recoverable"


def test_label_rules_and_derived_fields():
    bad_sum = {**LABEL, "total": 9.0}
    rules = [{"rule": "sum", "items": "items[].amount", "total": "total"}]
    llm = scripted(bad_sum, GOOD_DOC)
    rejections = produce(build_generator(cfg(rules=rules), Path(".")), llm)
    # a bad label is retried down the narrowing ladder (LABEL_TRIES), each try kept with its reason
    assert [r.reason for r in rejections] == ["rule:sum"] * LABEL_TRIES
    assert all(r.detail.startswith("label:") for r in rejections)
    assert len(llm.requests) == LABEL_TRIES and all(r.json_schema is not None for r in llm.requests)
    derive = [{"field": "items[].amount", "product": ["qty", "price"]}, {"field": "total", "sum": "items[].amount"}]
    wrong = {**LABEL, "items": [{"qty": 2, "price": 3.5, "amount": 1.0}], "total": 9.0}
    llm = scripted(wrong, GOOD_DOC)
    (rec,) = produce(build_generator(cfg(rules=rules, derive=derive), Path(".")), llm)
    assert isinstance(rec, Record) and rec.data["label"]["total"] == 7.0
    assert rec.data["label"]["items"][0]["amount"] == 7.0


def test_emit_messages_and_bad_example():
    (rec,) = produce(build_generator(cfg(emit="messages"), Path(".")), scripted(LABEL, GOOD_DOC))
    assert [m["role"] for m in rec.data["messages"]] == ["system", "user", "assistant"]
    assert rec.data["messages"][1]["content"] == GOOD_DOC
    with pytest.raises(RecipeError, match=r"examples\[0\].label does not match"):
        build_generator(cfg(examples=[{"label": {"number": 1}, "document": "x"}]), Path("."))


def test_truncated_or_looping_documents_are_trimmed():
    assert trim_document("Line one\nLine two\nLine thr", truncated=True) == "Line one\nLine two"
    looped = "ACME\nInvoice 1\nTotal 5\nACME\nInvoice 1\nTotal 5"
    assert trim_document(looped, truncated=True) == "ACME\nInvoice 1\nTotal 5"
    assert record_lines({"a": 1, "b": [{"c": "x"}]}) == "a: 1\nb[0].c: x"
    (rej,) = produce(build_generator(cfg(), Path(".")), scripted(LABEL, "   "))
    assert rej.reason == "empty_document"


def test_a_document_repeating_from_its_middle_is_cut():
    doc = ("Subject: Invoice SB-222\n\nDear Hillside Cafe,\n\nThank you for your order.\nTotal: $35.00\n\n"
           "Kind regards,\nSunrise Bakery\n\nEmail:\n\nDear Hillside Cafe,\n\nThank you for your order.\nTotal: $35.00")
    assert trim_document(doc, truncated=True).endswith("Sunrise Bakery\n\nEmail:")
    assert trim_document("Total: 5\nTotal: 5", truncated=False) == "Total: 5\nTotal: 5"  # too short to call a loop


def test_a_label_that_copies_the_schemas_example_is_retried_not_kept():
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"],
                                       "number": {"type": "string", "description": "the invoice number, e.g. INV-7"}}}
    gen = build_generator(DocumentsTechnique.model_validate(
        {"technique": "documents", "schema": schema, "document_type": "invoice", "names": "model"}), Path("."))
    out = produce(gen, scripted(LABEL, GOOD_DOC))  # the model writes the example's INV-7 on every try
    assert out and all(isinstance(r, Rejection) for r in out) and len(out) == LABEL_TRIES
    assert {r.reason for r in out} == {"copied_example"}
    assert "number='INV-7'" in out[0].detail
    # a label with its own number passes
    own = {**LABEL, "number": "INV-8"}
    (rec,) = produce(gen, scripted(own, GOOD_DOC.replace("INV-7", "INV-8")))
    assert isinstance(rec, Record) and rec.data["label"]["number"] == "INV-8"


def test_declared_name_fields_are_sampled_distinct_and_pinned_in_the_decoder():
    schema = {"type": "object", "required": ["number", "seller", "buyer"], "properties": {
        "number": {"type": "string"}, "seller": {"type": "string", "maxLength": 40},
        "buyer": {"type": "string", "maxLength": 40}, "contact_name": {"type": "string"},
        "file_name": {"type": "string"}, "kind": {"type": "string", "enum": ["a", "b"]}}}
    names = {"seller": "business", "buyer": "business", "contact_name": "person"}
    gen = build_generator(DocumentsTechnique.model_validate(
        {"technique": "documents", "schema": schema, "document_type": "invoice", "names": names}), Path("."))
    assert gen.describe()["names"] == names
    seen = set()
    for slot in range(6):
        llm = ScriptedLLM(lambda req: {k: v["enum"][0] for k, v in req.json_schema["properties"].items()
                                       if "enum" in v} | {"number": "INV-1", "file_name": "a.pdf"}
                          if req.json_schema is not None else "x")
        produce(gen, llm, slot)
        props = llm.requests[0].json_schema["properties"]
        assert set(k for k, v in props.items() if "enum" in v) == {"seller", "buyer", "contact_name", "kind"}
        seller, buyer, contact = (props[k]["enum"][0] for k in ("seller", "buyer", "contact_name"))
        assert seller != buyer and len(seller) <= 40 and contact.count(" ") == 1
        seen.add(seller)
        # the same slot draws the same names (resume replays from the cache)
        again = ScriptedLLM(lambda req: {} if req.json_schema is not None else "x")
        produce(gen, again, slot)
        assert again.requests[0].json_schema["properties"]["seller"] == props["seller"]
    assert len(seen) >= 4  # varied across slots


def test_no_field_is_sampled_by_its_name_alone():
    schema = {"type": "object", "properties": {"seller": {"type": "string"}, "customer_name": {"type": "string"},
                                               "invoice_number": {"type": "string"}}}
    gen = build_generator(DocumentsTechnique.model_validate(
        {"technique": "documents", "schema": schema, "document_type": "invoice"}), Path("."))
    llm = ScriptedLLM(lambda req: {} if req.json_schema is not None else "x")
    produce(gen, llm, 0)
    assert not any("enum" in v or "pattern" in v for v in llm.requests[0].json_schema["properties"].values())
    assert gen.describe()["names"] == "model"
    with pytest.raises(RecipeError, match="generate.names.sellr"):
        build_generator(DocumentsTechnique.model_validate(
            {"technique": "documents", "schema": schema, "names": {"sellr": "business"}}), Path("."))


def test_an_identifier_with_a_schema_example_is_drawn_in_its_shape():
    schema = {"type": "object", "properties": {
        "invoice_number": {"type": "string", "description": "the invoice's identifier, e.g. AP-0093"},
        "total": {"type": "number"}}}
    gen = build_generator(DocumentsTechnique.model_validate(
        {"technique": "documents", "schema": schema, "document_type": "invoice", "names": {"invoice_number": "id"}}),
        Path("."))
    drawn = set()
    for slot in range(5):
        llm = ScriptedLLM(lambda req: {"invoice_number": req.json_schema["properties"]["invoice_number"]["enum"][0],
                                       "total": 5.0} if req.json_schema is not None else "x")
        produce(gen, llm, slot)
        (value,) = llm.requests[0].json_schema["properties"]["invoice_number"]["enum"]
        assert re.fullmatch(r"AP-\d{4}", value) and value != "AP-0093"
        drawn.add(value)
    assert len(drawn) >= 4


# ---- the document form (prompt_form): a base model continues filled-in documents, the record's block left open

EXAMPLE = {"label": {"number": "INV-3", "date": "2024-01-09", "customer": "Pine Dental", "total": 40.0},
           "document": "Invoice INV-3 for Pine Dental\nDate: 2024-01-09\nTotal due: 40.00"}


class BaseModelLLM(ScriptedLLM):
    """A writer that says it is a base model, as the bundled one does (llm/render.style_of)."""

    prompt_style = "completion"


def doc_cfg(**kw):
    kw.setdefault("attributes", {})  # attribute axes keep auto on the chat form
    return cfg(examples=[EXAMPLE], **kw)


def test_document_form_shows_the_examples_filled_in_and_leaves_the_records_text_open():
    gen = build_generator(doc_cfg(), Path("."))
    llm = BaseModelLLM(lambda req: LABEL if req.json_schema is not None else GOOD_DOC)
    (rec,) = produce(gen, llm)
    assert isinstance(rec, Record) and rec.data["document"] == GOOD_DOC
    assert rec.meta["prompt_form"] == "document" and rec.meta["write_attempt"] == 1
    _, write_req = llm.requests
    assert write_req.messages is None and write_req.json_schema is None
    prompt = write_req.prompt
    # the example as its values then its text, the new record's values last, ending on the open "Text:" line
    # the example's text shows its values as {field} slots
    assert ("number: INV-3\ndate: 2024-01-09\ncustomer: Pine Dental\ntotal: 40.0\nText:\n"
            "Invoice {number} for {customer}\nDate: {date}\nTotal due: {total}") in prompt
    assert prompt.endswith("--- invoice 2 ---\nnumber: INV-7\ndate: 2024-05-02\ncustomer: Harbor Bakery\n"
                           "items[0].qty: 2\nitems[0].price: 3.5\nitems[0].amount: 7.0\ntotal: 7.0\nText:\n")
    assert prompt.index("INV-3") < prompt.index("INV-7") and "<record>" not in prompt
    # the same recipe on a chat writer keeps the chat form's prompt
    chat = scripted(LABEL, GOOD_DOC)
    (rec,) = produce(build_generator(doc_cfg(), Path(".")), chat)
    assert rec.meta["prompt_form"] == "chat" and "<record>" in chat.requests[-1].messages[-1]["content"]


def test_document_form_rewrites_a_document_that_lost_a_value_keeping_the_record():
    lost = GOOD_DOC.replace("Harbor Bakery", "a customer")
    docs = iter([lost, lost, GOOD_DOC])
    llm = BaseModelLLM(lambda req: LABEL if req.json_schema is not None else next(docs))
    *rejected, rec = produce(build_generator(doc_cfg(), Path(".")), llm)
    assert [r.reason for r in rejected] == ["rule:recoverable", "rule:recoverable"]
    assert all("customer='Harbor Bakery'" in r.detail for r in rejected)
    assert isinstance(rec, Record) and rec.data == {"document": GOOD_DOC, "label": LABEL}
    assert rec.meta["write_attempt"] == 3
    label_calls = [r for r in llm.requests if r.json_schema is not None]
    write_seeds = [r.seed for r in llm.requests if r.json_schema is None]
    assert len(label_calls) == 1 and len(set(write_seeds)) == 3  # one record, three seeds


def test_write_tries_bounds_the_rewrites_and_one_means_rejected_at_once():
    lost = GOOD_DOC.replace("Harbor Bakery", "a customer")
    for tries, form in ((2, "document"), (1, "document"), (None, "chat")):
        llm = BaseModelLLM(lambda req: LABEL if req.json_schema is not None else lost)
        out = produce(build_generator(doc_cfg(write_tries=tries, prompt_form=form), Path(".")), llm)
        assert [r.reason for r in out] == ["rule:recoverable"] * (tries or 1)  # chat form: one try by default
        assert all(r.data["label"] == LABEL for r in out)


def test_document_form_fills_the_slots_the_model_wrote_and_rewrites_one_naming_a_field_the_record_lacks():
    docs = iter(["Invoice {number} for {client}\nTotal: {total}", "Invoice {number}, {date}\nBill to {customer}\n"
                 "2 x 3.50 = 7.00\nTotal: {total}"])
    llm = BaseModelLLM(lambda req: LABEL if req.json_schema is not None else next(docs))
    unknown, rec = produce(build_generator(doc_cfg(), Path(".")), llm)
    assert unknown.reason == "unknown_slot" and "{client}" in unknown.detail
    assert rec.data["document"] == "Invoice INV-7, 2024-05-02\nBill to Harbor Bakery\n2 x 3.50 = 7.00\nTotal: 7.0"
    assert rec.data["label"] == LABEL


def test_document_form_rewrites_a_line_that_states_one_value_twice():
    docs = iter(["Invoice {number} for {customer} on {date}, {customer} on {date}\nTotal: {total}",
                 "HARBOR BAKERY: invoice {number} for {customer}\nTotal: {total}",
                 "Invoice {number} for {customer}\nDate: {date}\n2 x 3.50\nTotal: {total}"])
    llm = BaseModelLLM(lambda req: LABEL if req.json_schema is not None else next(docs))
    twice, written, rec = produce(build_generator(doc_cfg(), Path(".")), llm)
    assert twice.reason == "repeated_value" and "{customer} twice" in twice.detail
    assert written.reason == "repeated_value" and "{customer} twice" in written.detail  # the value and its slot
    assert rec.data["document"] == "Invoice INV-7 for Harbor Bakery\nDate: 2024-05-02\n2 x 3.50\nTotal: 7.0"


def test_document_form_rewrites_a_document_whose_number_is_only_inside_another():
    label = {"number": "INV-7", "date": "2024-05-06", "customer": "Harbor Bakery", "total": 6.0}
    docs = iter(["Invoice {number} for {customer}, {date}\nTotal: 9.00",  # "6" only inside the date
                 "Invoice {number} for {customer}, {date}\nTotal: 6.00"])
    llm = BaseModelLLM(lambda req: label if req.json_schema is not None else next(docs))
    stray, rec = produce(build_generator(doc_cfg(), Path(".")), llm)
    assert stray.reason == "rule:recoverable" and "total=6.0" in stray.detail
    assert rec.data["document"] == "Invoice INV-7 for Harbor Bakery, 2024-05-06\nTotal: 6.00"
