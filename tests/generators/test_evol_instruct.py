"""Evol-Instruct: operations and lineage, every elimination rule, judge mode, rounds, and a run through the engine."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.config.instruct import EVOL_OPERATIONS, EvolInstructTechnique
from synthloom.errors import InputFileError
from synthloom.generators.base import GenContext
from synthloom.generators.evol_instruct import build
from synthloom.records import Record, Rejection

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = EXAMPLES / "seeds.jsonl"


def gen(**cfg):
    return build(EvolInstructTechnique(seeds=str(SEEDS), **cfg), EXAMPLES)


def parent_of(req) -> str:
    return req.messages[-1]["content"].split(":", 1)[1].strip()


def responder(evolve=lambda parent: parent + " Answer in exactly three numbered steps for a beginner.",
              output="Here is a complete answer with concrete details and steps.", judge="Not Equal"):
    def respond(req):
        if req.purpose == "evol_instruct:evolve":
            return {"instruction": evolve(parent_of(req))}
        if req.purpose == "evol_instruct:judge":
            return {"judgement": judge}
        return {"output": output}
    return respond


def run(g, llm, slot=0, accepted=None):
    return asyncio.run(g.produce(slot, GenContext(llm=llm, seed=0, accepted=accepted if accepted is not None else [])))


def test_evolution_records_parent_round_and_operation():
    g = gen()
    llm = ScriptedLLM(responder())
    (rec,) = run(g, llm)
    assert isinstance(rec, Record)
    m = rec.meta
    parent = next(s for s in g.seeds if s.id == m["parent_id"])
    assert m["parent"] == parent.instruction and m["round"] == 1 and m["root_id"] == parent.id
    assert m["operation"] in EVOL_OPERATIONS
    assert rec.data["instruction"].startswith(parent.instruction) and rec.data["output"]
    assert [r.purpose for r in llm.requests] == ["evol_instruct:evolve", "evol_instruct:response"]


def test_each_operation_uses_its_prompt():
    for op in EVOL_OPERATIONS:
        llm = ScriptedLLM(responder())
        (rec,) = run(gen(operations=[op]), llm)
        assert rec.meta["operation"] == op
        system = llm.requests[0].messages[0]["content"]
        if op == "breadth":
            assert "Prompt Creator" in system and llm.requests[0].messages[-1]["content"].startswith("#Given Prompt#")
        else:
            assert "Prompt Rewriter" in system and llm.requests[0].messages[-1]["content"].startswith("#The Given Prompt#")
    depth = {op: ScriptedLLM(responder()) for op in EVOL_OPERATIONS[:5]}
    texts = set()
    for op, llm in depth.items():
        run(gen(operations=[op]), llm)
        texts.add(llm.requests[0].messages[0]["content"])
    assert len(texts) == 5  # a different method sentence per in-depth operation


def test_children_of_accepted_evolutions_go_one_round_deeper():
    g = gen(rounds=2)
    n = {"i": 0}

    def evolve(parent):
        n["i"] += 1
        return f"{parent} Then add variant {n['i']} with reasons {n['i']} and {n['i'] + 1}."
    llm = ScriptedLLM(responder(evolve=evolve))
    (first,) = run(g, llm, slot=0)
    accepted = [first]
    # force picking the evolved record: a pool of one seed is not possible, so look over slots
    deeper = None
    for slot in range(1, 60):
        (rec,) = run(g, llm, slot=slot, accepted=accepted)
        if rec.meta["parent_id"] == first.id:
            assert isinstance(rec, Record)
            deeper = rec
            break
    assert deeper is not None and deeper.meta["round"] == 2 and deeper.meta["root_id"] == first.meta["root_id"]
    # round 2 == rounds: it is never a parent again
    assert all(p.id != deeper.id for p in g.pool(GenContext(llm=None, accepted=accepted + [deeper])))


@pytest.mark.parametrize("evolve,reason", [
    (lambda p: "#Rewritten Prompt#: " + p + " with more detail please", "copies_template"),
    (lambda p: "Here is the given prompt made harder: " + p + " twice", "copies_template"),
    (lambda p: p, "no_information_gain"),
    (lambda p: p.upper() + "!", "no_information_gain"),
])
def test_failed_evolutions_are_eliminated_without_a_response_call(evolve, reason):
    llm = ScriptedLLM(responder(evolve=evolve))
    (rej,) = run(gen(), llm)
    assert isinstance(rej, Rejection) and rej.stage == "filter" and rej.reason == reason
    assert rej.meta["parent_id"] and rej.meta["operation"]
    assert [r.purpose for r in llm.requests] == ["evol_instruct:evolve"]


@pytest.mark.parametrize("output,reason", [
    ("Sorry, I can't help with that request.", "refusal"),
    ("It is what it is, and so it was.", "stopwords_only"),
    ("...", "stopwords_only"),
])
def test_bad_responses_are_eliminated(output, reason):
    (rej,) = run(gen(), ScriptedLLM(responder(output=output)))
    assert rej.reason == reason and rej.data["output"] == output


def test_long_answer_with_sorry_is_kept():
    output = "Sorry for the wait! " + "Here is a detailed explanation of the topic. " * 12
    (rec,) = run(gen(), ScriptedLLM(responder(output=output)))
    assert isinstance(rec, Record)


def test_judge_mode_asks_the_model():
    llm = ScriptedLLM(responder(judge="Equal"))
    (rej,) = run(gen(information_gain="judge"), llm)
    assert rej.reason == "no_information_gain" and rej.meta["judge"] == "Equal"
    assert "Equal or Not Equal" in llm.requests[1].messages[0]["content"]
    llm = ScriptedLLM(responder(judge="Not Equal"))
    (rec,) = run(gen(information_gain="judge"), llm)
    assert isinstance(rec, Record)
    assert [r.purpose for r in llm.requests] == ["evol_instruct:evolve", "evol_instruct:judge", "evol_instruct:response"]


def test_failed_parent_stays_in_the_pool():
    g = gen()
    before = {p.id for p in g.pool(GenContext(llm=None, accepted=[]))}
    run(g, ScriptedLLM(responder(evolve=lambda p: p)))  # fails
    assert {p.id for p in g.pool(GenContext(llm=None, accepted=[]))} == before


def test_seed_without_output_is_fine_for_evol(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"instruction": "Explain gravity."}\n{"instruction": "Name a planet."}\n')
    g = build(EvolInstructTechnique(seeds=str(p)), tmp_path)
    assert len(g.seeds) == 2
    p.write_text('{"input": "x"}\n')
    with pytest.raises(InputFileError, match=r"s.jsonl:1: missing field 'instruction'"):
        build(EvolInstructTechnique(seeds=str(p)), tmp_path)


def test_engine_run_links_every_record_to_a_known_parent(tmp_path):
    from synthloom.engine import RunStore, run_recipe

    n = {"i": 0}

    def evolve(parent):
        n["i"] += 1
        return f"{parent} Also consider case {n['i']} and justify each choice with evidence number {n['i']}."

    recipe = Recipe.model_validate({"name": "ev", "count": 12,
                                    "generate": {"technique": "evol_instruct", "seeds": str(SEEDS), "rounds": 3,
                                                 "signals": []},
                                    "engine": {"concurrency": 1}})
    s = run_recipe(recipe, output=tmp_path / "out", llm=ScriptedLLM(responder(evolve=evolve)))
    assert s.accepted == 12
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        recs = store.accepted_records()
    seeds = {p.id: p for p in gen().seeds}
    by_id = {r.id: r for r in recs}
    for r in recs:
        pid = r.meta["parent_id"]
        assert pid in seeds or pid in by_id
        parent_text = seeds[pid].instruction if pid in seeds else by_id[pid].data["instruction"]
        assert r.meta["parent"] == parent_text
        assert r.meta["round"] == (1 if pid in seeds else by_id[pid].meta["round"] + 1)
        assert 1 <= r.meta["round"] <= 3
    rows = [json.loads(l) for l in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert all(set(r) == {"instruction", "output"} for r in rows)


@pytest.mark.model
@pytest.mark.timeout(900)
def test_bundled_model_end_to_end(tmp_path):
    """CLI on the bundled model: lineage links each evolution to its parent; no accepted pair breaks a rule."""
    datasets = pytest.importorskip("datasets")
    from typer.testing import CliRunner

    from synthloom.cli import app
    from synthloom.engine import RunStore
    from synthloom.generators.instruct_filters import copies_template, evol_response_checks, no_information_gain

    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["generate", "evol-instruct", "--seeds", str(SEEDS), "--rounds", "2", "-n", "3",
                                 "-o", str(out), "--max-new-tokens", "120", "--max-attempts", "12"])
    assert r.exit_code in (0, 1), r.output
    assert (out / "data.jsonl").is_file(), f"exit {r.exit_code}, no data.jsonl:\n{r.output}\n{r.exception!r}"
    rows = [json.loads(l) for l in (out / "data.jsonl").read_text().splitlines()]
    assert rows, "no evolution accepted in 12 attempts"
    with RunStore(out / "store.sqlite") as store:
        recs = store.accepted_records()
    assert [r.data for r in recs] == rows
    seeds = {p.id: p.instruction for p in gen().seeds}
    by_id = {r.id: r for r in recs}
    for rec in recs:
        m = rec.meta
        assert m["parent_id"] in seeds or m["parent_id"] in by_id
        parent = seeds.get(m["parent_id"]) or by_id[m["parent_id"]].data["instruction"]
        assert m["parent"] == parent and m["operation"] in EVOL_OPERATIONS and 1 <= m["round"] <= 2
        assert copies_template(rec.data["instruction"]) is None
        assert no_information_gain(parent, rec.data["instruction"]) is None
        assert evol_response_checks(rec.data["output"]) is None

    r = CliRunner().invoke(app, ["export", str(out), "--format", "sharegpt", "--split", "1", "-o", str(tmp_path / "sg")])
    assert r.exit_code == 0, r.output
    ds = datasets.load_dataset(str(tmp_path / "sg"))
    assert len(ds["train"]) == len(rows)
