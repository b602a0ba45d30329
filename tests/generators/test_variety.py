"""Planned variety in the schema technique: sampled values pinned in the decoder and kept in lineage;
personas and topic trees written once by the model, deduplicated, then covered evenly."""
from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path

from synthloom.config.schema_gen import SchemaTechnique
from synthloom.generators.base import GenContext
from synthloom.generators.schema import SchemaGenerator
from synthloom.generators.variety import distinct
from tests.fakes import ScriptedLLM

SCHEMA = {"type": "object", "properties": {
    "category": {"type": "string", "enum": ["billing", "outage", "account"]},
    "amount": {"type": "number"},
    "customer": {"type": "string"},
    "text": {"type": "string"}}, "required": ["category", "amount", "customer", "text"]}


def generator(samplers: dict, **kw) -> SchemaGenerator:
    cfg = SchemaTechnique.model_validate({"technique": "schema", "schema": SCHEMA, "instruction": "support tickets",
                                          "samplers": samplers, **kw})
    return SchemaGenerator(cfg, Path("."))


def test_sampled_values_are_pinned_in_the_decoder_and_kept_in_lineage():
    gen = generator({"category": {"kind": "category", "values": {"billing": 1, "outage": 1}},
                     "amount": {"kind": "number", "distribution": "uniform", "params": {"loc": 10, "scale": 90},
                                "round": 2},
                     "who": {"kind": "person", "locale": "fr_FR"},
                     "customer": {"kind": "expression", "template": "{{ who.name }}"}})
    req, meta = gen.request_for(5, GenContext(llm=None, seed=1))
    sampled = meta["attributes"]
    props = req.json_schema["properties"]
    assert props["category"]["enum"] == [sampled["category"]]
    assert props["amount"]["enum"] == [sampled["amount"]]
    assert props["customer"]["enum"] == [sampled["who"]["name"]]
    assert "enum" not in props["text"]
    # the prompt shows every sampled value, a person as key=value pairs
    assert f"who: name={sampled['who']['name']}, first_name=" in req.messages[-1]["content"]
    again, meta2 = gen.request_for(5, GenContext(llm=None, seed=1))
    assert again == req and meta2 == meta
    assert gen.describe()["variety"]["category"]["target"] == {"billing": 0.5, "outage": 0.5}


def test_a_recipe_without_samplers_keeps_its_serialized_form():
    cfg = SchemaTechnique.model_validate({"technique": "schema", "schema": SCHEMA})
    assert "samplers" not in cfg.model_dump(mode="json", by_alias=True)  # same run identity as before


def test_personas_and_topic_leaves_are_written_once_deduplicated_and_covered_evenly():
    personas = iter(["a nurse on night shifts", "A nurse on night shifts.", "a retired teacher",
                     "a student who rents", "a teacher, retired", "a farmer with two kids"] * 10)

    def answer(req):
        user = req.messages[-1]["content"]
        if "Describe one such person" in user:
            return {"persona": next(personas)}
        if "Name one subtopic" in user:  # one subtopic a call, some repeated: kept once
            topic, seed = user.split('"')[1], next(turn)
            if topic == "tickets":
                return {"subtopic": ["refunds", "outages", "Refunds!", "tickets"][seed % 4]}
            return {"subtopic": [f"{topic} late", f"{topic} partial", f"late {topic}"][seed % 3]}
        return {"category": "billing", "amount": 1, "customer": "x", "text": "hello there"}

    turn = itertools.count()
    llm = ScriptedLLM(answer)
    gen = generator({"persona": {"kind": "personas", "count": 3},
                     "topic": {"kind": "topic_tree", "breadth": 2, "depth": 2, "root": "tickets"}})
    ctx = GenContext(llm=llm, seed=0)

    async def run():
        return await asyncio.gather(*(gen.produce(i, ctx) for i in range(8)))

    results = asyncio.run(run())
    planned = gen.describe()["variety"]
    assert planned["persona"]["planned"] == ["a nurse on night shifts", "a retired teacher", "a student who rents"]
    leaves = planned["topic"]["planned"]  # 2 x 2, "late outages" and "outages late" kept once
    assert sorted({frozenset(leaf.replace(">", " ").split()) for leaf in leaves}, key=sorted) == sorted(
        {frozenset({t, t2, w}) for t in ("refunds", "outages") for t2 in (t,) for w in ("late", "partial")}, key=sorted)
    assert len(leaves) == 4 and "tickets" not in " ".join(leaves)
    plan_calls = [r for r in llm.requests if r.purpose == "plan"]
    assert len([r for r in plan_calls if "subtopic" in r.messages[-1]["content"]]) == 3 * 4  # (root + 2) x 2 x breadth
    topics = Counter(out[-1].meta["attributes"]["topic"] for out in results)
    assert set(topics.values()) == {2}  # 8 records over 4 leaves
    assert "persona: a" in llm.requests[-1].messages[-1]["content"]


def test_distinct_drops_near_duplicates_and_the_parent():
    assert distinct(["Refunds", "refunds.", "Late refunds", "refunds late", "Billing"], ["Billing"]) == \
        ["Refunds", "Late refunds"]


def test_the_shipped_example_plans_its_variety_as_its_comments_say():
    import yaml

    examples = Path(__file__).resolve().parents[2] / "examples"
    recipe = yaml.safe_load((examples / "tickets-variety.yaml").read_text())
    gen = SchemaGenerator(SchemaTechnique.model_validate(recipe["generate"]), examples)
    topics = itertools.cycle(["charged for a seat nobody uses", "card declined at renewal", "tax missing on invoice"])
    llm = ScriptedLLM(lambda req: {"subtopic": next(topics)} if req.purpose == "plan" else
                      {"body": "My card was charged again.", "subject": "Charged again", "category": "refund",
                       "priority": "low", "amount": 1.0})
    ctx = GenContext(llm=llm, seed=7)
    asyncio.run(gen.produce(0, ctx))
    plans = Counter()
    for slot in range(14):
        req, meta = gen.request_for(slot, ctx)
        a, ask = meta["attributes"], req.messages[-1]["content"]
        assert a["signed_by"] == a["customer"]["first_name"] and f"signed_by: {a['signed_by']}" in ask
        assert a["customer"]["email"] not in ask  # show: false
        assert a["priority"] == "high" if a["amount"] > 200 else a["priority"] in ("low", "medium", "high")
        assert req.json_schema["properties"]["amount"]["enum"] == [a["amount"]]
        assert a["written_by"] in (examples / "variety" / "personas.txt").read_text()
        plans[a["account"]["plan"]] += 1
    assert plans == {"starter": 5, "team": 5, "business": 4} or sorted(plans.values()) == [4, 5, 5]
    assert len(gen.describe()["variety"]["topic"]["planned"]) == 3


def test_the_documents_technique_pins_its_samplers_and_shows_them_in_both_prompts():
    from synthloom.config.documents import DocumentsTechnique
    from synthloom.generators import build_generator

    schema = {"type": "object", "required": ["number", "issued", "author"], "properties": {
        "number": {"type": "string"}, "issued": {"type": "string", "format": "date"}, "author": {"type": "string"}}}
    cfg = DocumentsTechnique.model_validate({
        "technique": "documents", "schema": schema, "document_type": "memo", "samplers": {
            "issued": {"kind": "date", "start": "2023-01-01", "end": "2023-12-31"},
            "who": {"kind": "person", "locale": "it_IT", "show": False},
            "author": {"kind": "expression", "template": "{{ who.name }}"},
            "tone": {"kind": "category", "values": ["formal", "chatty"]}}})
    assert "samplers" not in DocumentsTechnique.model_validate(
        {"technique": "documents", "schema": schema}).model_dump(mode="json", by_alias=True)
    gen = build_generator(cfg, Path("."))

    def answer(req):
        if req.json_schema is not None:
            props = req.json_schema["properties"]
            return {"number": "M-1", "issued": props["issued"]["enum"][0], "author": props["author"]["enum"][0]}
        label = req.messages[-1]["content"]
        return "Memo M-1\n" + "\n".join(line.split(": ", 1)[-1] for line in label.splitlines() if ": " in line)

    llm = ScriptedLLM(answer)
    out = asyncio.run(gen.produce(3, GenContext(llm=llm, seed=0)))
    meta = out[-1].meta
    a = meta["attributes"]
    label_req = llm.requests[0]
    assert label_req.json_schema["properties"]["issued"]["enum"] == [a["issued"]]
    assert label_req.json_schema["properties"]["author"]["enum"] == [a["who"]["name"]]
    assert f"tone: {a['tone']}" in label_req.messages[-1]["content"]
    assert f"tone: {a['tone']}" in llm.requests[1].messages[-1]["content"]
    assert a["who"]["email"] not in label_req.messages[-1]["content"]
    assert "variety" in gen.describe()


def test_a_finished_run_run_again_keeps_its_plan_in_the_manifest():
    from synthloom.generators.variety import Variety

    before = {"variety": {"topic": {"kind": "topic_tree", "planned": ["a", "b"], "target": {"a": 0.5, "b": 0.5}},
                          "n": {"kind": "number", "quantiles": {"p50": 1}}}}
    now = {"narrowing": [], "variety": {"topic": {"kind": "topic_tree"}, "n": {"kind": "number", "quantiles": {"p50": 1}}}}
    merged = Variety.carry_plan(now, before)
    assert merged["variety"]["topic"]["planned"] == ["a", "b"] and merged["narrowing"] == []
    assert Variety.carry_plan({"x": 1}, before) == {"x": 1}


def test_the_classification_technique_shows_personas_as_context_and_keeps_old_prompts():
    from synthloom.config.classify import ClassificationTechnique
    from synthloom.generators import build_generator

    labels = [{"name": "refund", "description": "asks for money back", "examples": ["I want my money back"]},
              {"name": "login", "description": "cannot sign in", "examples": ["My password fails"]}]
    plain = ClassificationTechnique.model_validate({"technique": "classification", "labels": labels})
    assert "samplers" not in plain.model_dump(mode="json", by_alias=True)
    old = build_generator(plain, Path("."))
    req, _meta = old.request_for(0, GenContext(llm=None, seed=0), "refund")
    assert 'Label "refund": asks for money back\nWrite one message with label refund. Make it ' in req.messages[-1]["content"]
    assert req.messages[-1]["content"].endswith("without typos.")  # no context: the prompt as before samplers
    cfg = ClassificationTechnique.model_validate({"technique": "classification", "labels": labels, "samplers": {
        "asked_by": {"kind": "personas", "count": 2, "examples": ["a nurse on night shifts"]}}})
    gen = build_generator(cfg, Path("."))
    who = itertools.cycle(["a retired teacher", "a student who rents", "a retired teacher"])
    llm = ScriptedLLM(lambda r: {"persona": next(who)} if r.purpose == "plan" else {"text": "money back please"})
    out = asyncio.run(gen.produce(0, GenContext(llm=llm, seed=0, target=4)))
    ask = llm.requests[-1].messages[-1]["content"]
    assert "asked_by: a retired teacher" in ask or "asked_by: a student who rents" in ask
    assert out[-1].meta["attributes"]["asked_by"] in ("a retired teacher", "a student who rents")
