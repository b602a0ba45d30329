"""The schema technique's first try: unbounded numbers bounded, declared objects closed, nothing else capped."""
from pathlib import Path

from synthloom.config.schema_gen import SchemaTechnique
from synthloom.generators.base import GenContext
from synthloom.generators.schema import SchemaGenerator

SCHEMA = {"type": "object", "required": ["id", "note"],
          "properties": {"id": {"type": "integer"}, "note": {"type": "string"},
                         "tags": {"type": "array", "items": {"type": "string"}}}}


def test_first_try_bounds_numbers_and_closes_objects_but_caps_nothing_else():
    gen = SchemaGenerator(SchemaTechnique.model_validate({"technique": "schema", "schema": SCHEMA}), Path("."))
    req, _ = gen.request_for(0, GenContext(llm=None))
    s = req.json_schema
    assert s["properties"]["id"]["maximum"] == 10**9 and s["properties"]["id"]["minimum"] == -(10**9)
    assert s["additionalProperties"] is False
    assert "maxLength" not in s["properties"]["note"] and "maxItems" not in s["properties"]["tags"]
    assert gen.schema == SCHEMA  # records are validated against the schema as written


def test_requests_ask_the_decoder_not_to_copy_the_examples_free_text():
    examples = [{"id": 1, "note": "Charged twice for the March plan", "tags": ["billing"]},
                {"id": 2, "note": "short", "tags": ["refund request for order"]}]
    gen = SchemaGenerator(SchemaTechnique.model_validate({"technique": "schema", "schema": SCHEMA, "examples": examples}),
                          Path("."))
    req, _ = gen.request_for(0, GenContext(llm=None))
    # texts of three words or more, as the copied_example check reads them; not ids or single words
    assert set(req.avoid) == {"charged twice for the march plan", "refund request for order"}
    plain = SchemaGenerator(SchemaTechnique.model_validate({"technique": "schema", "schema": SCHEMA}), Path("."))
    assert plain.request_for(0, GenContext(llm=None))[0].avoid == ()


def test_the_recipes_rules_reject_a_record_and_its_narrowings_and_rules_are_described():
    """A cross-field rule comes from the recipe, is named in the rejection, and is listed with every
    narrowing in what the manifest and the report show."""
    import asyncio

    from fakes import ScriptedLLM
    from synthloom.records import Record, Rejection

    schema = {"type": "object", "required": ["code", "opened", "closed"], "properties": {
        "code": {"type": "string"}, "opened": {"type": "string", "format": "date"},
        "closed": {"type": "string", "format": "date"}, "note": {"type": "string"}}}
    examples = [{"code": "QX-104", "opened": "1871-03-02", "closed": "1871-04-11", "note": "a short note here"},
                {"code": "RB-220", "opened": "1880-09-30", "closed": "1881-01-05", "note": "another note"}]
    cfg = SchemaTechnique.model_validate({
        "technique": "schema", "schema": schema, "examples": examples, "retries": 0,
        "rules": [{"rule": "order", "name": "closed_after_opened", "field": "closed", "after": "opened",
                   "within_days": 365}]})
    gen = SchemaGenerator(cfg, Path("."))
    described = gen.describe()
    assert described["rules"] == ["rule:closed_after_opened: closed after opened, within 365 days"]
    assert "code: pattern ^[A-Z]{2}-[0-9]{3}$ (from 2 examples)" in described["narrowing"]
    assert "opened: real calendar date, years 1820-1939 (from format: date and 2 examples)" in described["narrowing"]
    assert not any(line.startswith("note") for line in described["narrowing"])  # text stays free

    bad = {"code": "TT-310", "opened": "1875-05-01", "closed": "1874-01-01"}
    (rej,) = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(lambda req: bad))))
    assert isinstance(rej, Rejection) and rej.reason == "rule:closed_after_opened"
    assert "closed='1874-01-01' is not after opened='1875-05-01'" in rej.detail
    ok = {**bad, "closed": "1875-06-01"}
    (rec,) = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(lambda req: ok))))
    assert isinstance(rec, Record)
    # the decoder got the learned pattern and the era on the first try
    llm = ScriptedLLM(lambda req: ok)
    asyncio.run(gen.produce(1, GenContext(llm=llm)))
    props = llm.requests[0].json_schema["properties"]
    assert props["code"]["pattern"] == "^[A-Z]{2}-[0-9]{3}$" and "note" in props and "pattern" not in props["note"]


def test_no_narrowing_when_switched_off():
    examples = [{"id": 1, "note": "QX-104"}, {"id": 2, "note": "RB-220"}]
    on = SchemaGenerator(SchemaTechnique.model_validate({"technique": "schema", "schema": SCHEMA,
                                                         "examples": examples}), Path("."))
    off = SchemaGenerator(SchemaTechnique.model_validate({"technique": "schema", "schema": SCHEMA, "examples": examples,
                                                          "narrowing": {"shapes": False, "numbers": False}}), Path("."))
    assert on.request_for(0, GenContext(llm=None))[0].json_schema["properties"]["note"]["pattern"]
    assert "pattern" not in off.request_for(0, GenContext(llm=None))[0].json_schema["properties"]["note"]
    assert off.describe()["narrowing"] == []
