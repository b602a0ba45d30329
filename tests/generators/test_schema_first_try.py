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
