"""Pinned (label) fields are decoded before the text, so the text is written for the label it carries."""
import asyncio
import json
from pathlib import Path

import yaml

from synthloom.config.schema_gen import SchemaTechnique
from synthloom.generators.base import GenContext
from synthloom.generators.schema import SchemaGenerator
from tests.fakes import ScriptedLLM

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _demo_generator() -> SchemaGenerator:
    recipe = yaml.safe_load((EXAMPLES / "billing-tickets.yaml").read_text())
    return SchemaGenerator(SchemaTechnique.model_validate(recipe["generate"]), EXAMPLES)


def test_the_demo_decodes_the_pinned_category_before_body_and_subject():
    gen = _demo_generator()
    req, meta = gen.request_for(0, GenContext(llm=None, seed=7))
    props = list(req.json_schema["properties"])
    # the pinned label, then the other label field (priority), then the text in the schema's order (the
    # message before its subject: a subject written first ran on into the message), then the amount
    assert props == ["category", "priority", "body", "subject", "amount"]
    assert req.json_schema["properties"]["category"]["enum"] == [meta["attributes"]["category"]]
    # the prompt names the label before the record is written, and every few-shot answer shows it first
    assert f"category: {meta['attributes']['category']}" in req.messages[-1]["content"]
    shots = [json.loads(m["content"]) for m in req.messages if m["role"] == "assistant"]
    assert shots and all(next(iter(s)) == "category" for s in shots)
    asks = [m["content"] for m in req.messages[1:-1] if m["role"] == "user"]
    assert all(f"category: {s['category']}" in a for s, a in zip(shots, asks))


def test_records_keep_the_schema_field_order_in_the_output():
    gen = _demo_generator()

    def answer(req):  # a model that writes the fields in the decoding order (category first)
        return {"category": req.json_schema["properties"]["category"]["enum"][0], "subject": "Charged twice",
                "body": "My card was charged twice this month, please refund one.", "priority": "high", "amount": 9.0}

    (rec,) = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(answer), seed=7)))
    assert list(rec.data) == ["body", "subject", "category", "priority", "amount"]


def test_a_record_that_copies_a_few_shot_value_is_rejected_and_retried():
    """The demo's few-shot subject "Charged twice for March", copied word for word (any case), is not a
    new record: `copied_example`, and the slot's next try is kept. A short value ("Refund") that happens
    to match nothing is fine."""
    gen = _demo_generator()
    answers = iter([{"subject": "charged twice for March", "body": "My card was charged twice, refund one please."},
                    {"subject": "Refund", "body": "My card was charged twice this month, please refund one."}])

    def answer(req):
        return {"category": req.json_schema["properties"]["category"]["enum"][0], "priority": "high",
                "amount": 9.0, **next(answers)}

    out = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(answer), seed=7)))
    assert [getattr(o, "reason", "record") for o in out] == ["copied_example", "record"]
    assert "subject='charged twice for March'" in out[0].detail
    assert out[1].data["subject"] == "Refund"


def test_a_schema_default_is_a_fine_value_for_the_schema_technique():
    """`default: 1` (JSONSchemaBench GitHub-Hard o90612, `cluster-size`) written as 1 is a record, not a copy."""
    from synthloom.llm.types import GenerationResult
    from synthloom.generators.schema import parse_result
    from synthloom.llm import runaway
    from synthloom.llm.jsontext import validator

    schema = {"type": "object", "properties": {"cluster-size": {"type": "integer", "default": 1},
                                               "name": {"type": "string", "examples": ["main cluster"]}}}
    shown = runaway.example_values(schema, [], schema_own=False)
    value = {"cluster-size": 1, "name": "main cluster"}
    rec = parse_result(GenerationResult(text=json.dumps(value), parsed=value), validator(schema), {}, shown)
    assert rec.data == value
