"""The run loop with a scripted model: targets, funnel, cache replay, resume, atomic output."""
from __future__ import annotations

import json

import pytest

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.engine import RunStore, run_recipe

SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": "string", "minLength": 3}, "priority": {"type": "integer", "minimum": 1, "maximum": 3}},
    "required": ["subject", "priority"],
    "additionalProperties": False,
}


def recipe(count=5, **engine):
    return Recipe.model_validate({
        "name": "t", "count": count,
        "generate": {"technique": "schema", "schema": SCHEMA, "instruction": "tickets",
                     "attributes": {"tone": ["angry", "polite"]}},
        "engine": {"concurrency": 3, **engine},
    })


def cycling_responder(answers):
    state = {"i": 0}

    def respond(req):
        a = answers[state["i"] % len(answers)]
        state["i"] += 1
        return a
    return respond


def test_reaches_target_and_rejects_with_reasons(tmp_path):
    answers = ['{"subject": "Refund please", "priority": 2}', "not json", '{"subject": "x", "priority": 2}',
               '{"subject": "Refund please", "priority": 2}'] + [
        json.dumps({"subject": f"Charge {i} twice", "priority": 1 + i % 3}) for i in range(10)]
    llm = ScriptedLLM(cycling_responder(answers))
    s = run_recipe(recipe(5, concurrency=1), output=tmp_path / "t.jsonl", llm=llm)
    assert s.accepted == 5 and s.complete and s.stopped_by == "target"
    rows = [json.loads(l) for l in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and len({json.dumps(r, sort_keys=True) for r in rows}) == 5
    assert all(set(r) == {"subject", "priority"} for r in rows)  # data only, no lineage
    reasons = {(st, r) for st, r, n in s.rejections}
    assert ("parse", "invalid_json") in reasons
    assert ("validate", "schema:minLength") in reasons
    assert ("dedup", "exact_duplicate") in reasons
    f = s.funnel
    assert f["generated"] == 5 + 3 and f["parsed"] == 7 and f["valid"] == 6 and f["unique"] == 5 and f["accepted"] == 5
    manifest = json.loads((tmp_path / "t.run" / "manifest.json").read_text())
    assert manifest["counts"]["accepted"] == 5 and manifest["funnel"] == f


def test_lineage_has_attributes_and_seed(tmp_path):
    n = {"i": 0}

    def respond(req):
        n["i"] += 1
        return {"subject": f"Ticket number {n['i']}", "priority": 1}
    run_recipe(recipe(4), output=tmp_path / "o", llm=ScriptedLLM(respond))
    with RunStore(tmp_path / "o" / "store.sqlite") as st:
        recs = st.accepted_records()
    assert len(recs) == 4
    for r in recs:
        assert r.meta["attributes"]["tone"] in ("angry", "polite")
        assert r.meta["technique"] == "schema" and isinstance(r.meta["seed"], int)
    assert (tmp_path / "o" / "data.jsonl").exists()


def test_rerun_replays_from_cache(tmp_path):
    calls = {"n": 0}

    def respond(req):
        calls["n"] += 1
        return {"subject": f"Ticket seed {req.seed}", "priority": 2}
    out = tmp_path / "x.jsonl"
    s1 = run_recipe(recipe(6), output=out, llm=ScriptedLLM(respond))
    first = out.read_text()
    made = calls["n"]
    s2 = run_recipe(recipe(6), output=out, llm=ScriptedLLM(respond))
    assert calls["n"] == made  # nothing new was asked
    assert s2.resumed and s2.accepted == 6 and out.read_text() == first
    # asking for more continues the same run: the first records are kept, only new slots call the model
    s3 = run_recipe(recipe(8), output=out, llm=ScriptedLLM(respond))
    assert s3.accepted == 8 and out.read_text().startswith(first)
    assert calls["n"] == made + 2


def test_budget_stops_run_and_keeps_partial_output(tmp_path):
    llm = ScriptedLLM(lambda req: {"subject": "always the same", "priority": 1})
    s = run_recipe(recipe(5, max_attempts=7), output=tmp_path / "p.jsonl", llm=llm)
    assert s.accepted == 1 and not s.complete and s.stopped_by == "max_attempts"
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 1
    assert s.funnel["generated"] == 7


def test_failure_leaves_no_half_written_output(tmp_path):
    from synthloom.errors import BackendError

    def respond(req):
        raise BackendError("server went away")
    out = tmp_path / "never.jsonl"
    with pytest.raises(BackendError):
        run_recipe(recipe(3), output=out, llm=ScriptedLLM(respond))
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_attribute_naming_a_field_pins_it_in_the_schema(tmp_path):
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["spam", "ham", "rare"]},
                                                "text": {"type": "string"}}, "required": ["label", "text"]}
    r = Recipe.model_validate({"count": 6, "generate": {"technique": "schema", "schema": schema,
                                                        "attributes": {"label": ["spam", "ham", "rare"], "mood": ["x"]}}})
    seen = []

    def respond(req):
        enum = req.json_schema["properties"]["label"]["enum"]
        assert len(enum) == 1  # pinned
        seen.append(enum[0])
        return {"label": enum[0], "text": f"message {len(seen)}"}
    run_recipe(r, output=tmp_path / "o.jsonl", llm=ScriptedLLM(respond))
    rows = [json.loads(l) for l in (tmp_path / "o.jsonl").read_text().splitlines()]
    with RunStore(tmp_path / "o.run" / "store.sqlite") as st:
        for rec in st.accepted_records():
            assert rec.data["label"] == rec.meta["attributes"]["label"]
    assert len(rows) == 6 and set(seen) <= {"spam", "ham", "rare"}


def test_a_judge_with_its_own_model_is_cached_and_metered(tmp_path, monkeypatch):
    import synthloom.llm.factory as factory

    judge_calls = []

    def judge(req):
        judge_calls.append(req)
        return {"rationale": "fine", "score": 4}
    monkeypatch.setattr(factory, "build_backend", lambda cfg: ScriptedLLM(judge, identity="fake:judge"))
    r = Recipe.model_validate({
        "count": 3, "generate": {"technique": "schema", "schema": SCHEMA},
        "quality": [{"gate": "dedup"}, {"gate": "judge", "threshold": 3,
                                          "model": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "j"}}],
    })
    gen = ScriptedLLM(lambda req: {"subject": f"Ticket {req.seed}", "priority": 1})
    run_recipe(r, output=tmp_path / "o.jsonl", llm=gen)
    assert len(judge_calls) == 3
    run_recipe(r, output=tmp_path / "o.jsonl", llm=gen)
    assert len(judge_calls) == 3  # finished: nothing judged again
    with RunStore(tmp_path / "o.run" / "store.sqlite") as st:
        usage = {(u["model"], u["purpose"]): u for u in st.usage()}
        assert usage[("fake:judge", "judge")]["calls"] == 3
        assert all(rec.meta["scores"]["judge"] == 4 for rec in st.accepted_records())


def test_attributes_are_covered_evenly(tmp_path):
    from synthloom.generators.base import GenContext

    ctx = GenContext(llm=None, seed=3)
    values = ["a", "b", "c", "rare"]
    picks = [ctx.balanced(slot, "label", values) for slot in range(40)]
    assert all(picks.count(v) == 10 for v in values)
    assert picks[:4] != picks[4:8] or picks[4:8] != picks[8:12]  # a seeded order, not a fixed cycle
    weighted = [ctx.balanced(slot, "label", ["common", "common", "common", "rare"]) for slot in range(40)]
    assert weighted.count("rare") == 10 and weighted.count("common") == 30


def test_a_failed_try_is_retried_with_a_narrower_schema_in_the_same_slot(tmp_path):
    schemas = []

    def respond(req):
        schemas.append(req.json_schema)
        if len(schemas) % 2 == 1:
            return {"subject": "no", "priority": 1}  # too short: fails minLength
        return {"subject": f"Refund for order {len(schemas)}", "priority": 1}
    s = run_recipe(recipe(2, concurrency=1), output=tmp_path / "r.jsonl", llm=ScriptedLLM(respond))
    assert s.accepted == 2 and s.funnel["generated"] == 4 and s.funnel["valid"] == 2
    assert schemas[0] == SCHEMA or schemas[0]["properties"]["subject"] == SCHEMA["properties"]["subject"]
    assert schemas[1] != schemas[0]  # the retry decodes against a narrowed schema
    with RunStore(tmp_path / "r.run" / "store.sqlite") as st:
        assert [r.meta["attempt"] for r in st.accepted_records()] == [2, 2]
        assert {r.reason for r in st.rejections()} == {"schema:minLength"}


def test_recipe_exports_are_written_after_the_run(tmp_path):
    from synthloom import run_recipe  # the public run: the engine's, plus the exports (synthloom.pipeline)

    r = Recipe.model_validate({
        "count": 10,
        "generate": {"technique": "schema", "schema": {
            "type": "object", "properties": {"instruction": {"type": "string"}, "output": {"type": "string"}},
            "required": ["instruction", "output"]}},
        "output": {"exports": [{"format": "openai", "path": str(tmp_path / "ft"), "split": "0.8,0.2,0"}]},
    })
    n = {"i": 0}

    def respond(req):
        n["i"] += 1
        return {"instruction": f"Name a prime number above {n['i'] * 10}", "output": "one"}
    run_recipe(r, output=tmp_path / "run", llm=ScriptedLLM(respond))
    files = sorted(p.name for p in (tmp_path / "ft").iterdir())
    assert "train.jsonl" in files
    rows = [json.loads(l) for l in (tmp_path / "ft" / "train.jsonl").read_text().splitlines()]
    assert rows and all(m["role"] in ("system", "user", "assistant") for row in rows for m in row["messages"])


def test_integers_beyond_64_bits_do_not_crash_the_store(tmp_path):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    r = Recipe.model_validate({"count": 1, "generate": {"technique": "schema", "schema": schema}})
    big = 10 ** 30
    s = run_recipe(r, output=tmp_path / "b.jsonl", llm=ScriptedLLM(lambda req: f'{{"n": {big}}}'))
    assert s.accepted == 1
    assert json.loads((tmp_path / "b.jsonl").read_text())["n"] == big
