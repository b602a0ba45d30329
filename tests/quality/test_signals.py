"""Signals without a strong judge: completeness, instruction form, relevance (real MiniLM), the gates and recipes."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from fakes import ScriptedLLM
from synthloom.config.catalog import GateConfig
from synthloom.errors import UsageError
from synthloom.quality import build_gates
from synthloom.quality.base import GateContext
from synthloom.quality.completeness import check_completeness
from synthloom.quality.form import evolved_simpler, instruction_form
from synthloom.records import Record, Rejection

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = EXAMPLES / "seeds.jsonl"


# ------------------------------------------------------------------ completeness

@pytest.mark.parametrize("text", [
    "The sky looks blue because air scatters short wavelengths more than long ones.",
    "Canberra.", "Paris", "42", "neutral",
    "1. Mercury\n2. Venus\n3. Earth",
    "Cold rain on the roof,\nthe maple drops its last leaf,\ntea steams by the door",
    "Use slicing:\n\n```python\ncopy = items[::-1]\n```",
    "Subject: Re: sync\n\nThanks, I can't make it.\n\nBest regards,\nAnna",
    '"The secret of getting ahead is getting started." — Mark Twain',
    "Is it (really) done? Yes!",
    "12.", "3, 7, 19, 42, 88",
])
def test_complete_texts_pass(text):
    c = check_completeness(text)
    assert c.score >= 0.6, (text, c)


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("Here is the code:\n\n```python\ndef f(x):\n    return x", "open_code_fence"),
    ("The answer (as shown in the table is 4.", "unclosed_bracket"),
    ('He said "stop and went home.', "unclosed_quote"),
    ("Steps:\n1. Preheat the oven.\n2.", "dangling_list_item"),
    ("The best ingredients are:", "open_ending"),
    ("Mix the flour with the eggs,", "open_ending"),
    ("Plants need light. They also need water and", "cut_mid_sentence"),
    ("The meal was prepa", "cut_mid_word"),
    ("Alexander Graham Bell is usually credited w", "no_end_mark"),
    ("Sunlight is scattered by the air. That scattered light reaches our eyes from every direction so the sky looks", "cut_mid_sentence"),
])
def test_cut_texts_fail_with_their_reason(text, reason):
    c = check_completeness(text)
    assert c.score < 0.6 and c.reason == reason, (text, c)


# ------------------------------------------------------------------ instruction form

@pytest.mark.parametrize("text", [
    "Write a poem about the sea.", "What is your name?", "How do bees make honey",
    "Please list three tips for studying.", "Given the table below, find the most expensive item:\n\n| a | 1 |",
    "Classify the following sentences as positive or negative:", "Can you explain recursion to a child?",
    "I need a name for my bakery.", "My plants keep dying. What am I doing wrong?",
])
def test_requests_and_questions_are_well_formed(text):
    assert instruction_form(text).ok, (text, instruction_form(text))


@pytest.mark.parametrize("text, kind", [
    ("The most expensive item in this table is:", "fragment"),
    ("Plan your itinerary and use this itinerary to the destination and an accompanying photo. Use the", "fragment"),
    ("Dr. No is the sixth book of the Bond series and was written at Fleming's Goldeneye estate in Jamaica.", "statement"),
    ("The food is in the hive.", "statement"),
    ("", "empty"),
])
def test_statements_and_fragments_are_not(text, kind):
    f = instruction_form(text)
    assert not f.ok and f.kind == kind, (text, f)


def test_an_evolved_instruction_may_not_be_simpler_than_its_parent():
    parent = "Write a short story about a lighthouse keeper in exactly 200 words, ending with a twist."
    assert evolved_simpler(parent, "What is your name?", "deepen")
    assert evolved_simpler(parent, "What is your name?", "breadth")  # under half the parent's length
    harder = parent + " Tell it from the point of view of the lighthouse's cat, and include a storm."
    assert evolved_simpler(parent, harder, "add_constraints") is None
    same_size = "Write a short poem about a lighthouse keeper in exactly 12 lines, with a rhyme scheme."
    assert evolved_simpler(parent, same_size, "breadth") is None
    fewer_constraints = "Write a long and detailed story about a lighthouse keeper who lives alone on a cold island."
    assert "constraints" in evolved_simpler(parent, fewer_constraints, "deepen")


# ------------------------------------------------------------------ relevance (real MiniLM)

PAIRS = [
    ("Give three tips for keeping houseplants alive in winter.",
     "Keep them away from cold drafts, water less often, and move them closer to a bright window."),
    ("Explain why the sky is blue.", "Air molecules scatter blue sunlight more than red light, so the sky looks blue."),
    ("Write a Python function that returns the factorial of a number.",
     "def factorial(n):\n    return 1 if n < 2 else n * factorial(n - 1)"),
    ("Give me a simple recipe for pancakes.", "Whisk flour, eggs and milk into a batter and fry small rounds in butter."),
    ("How do bees make honey?", "Bees collect nectar, break down its sugars with enzymes and evaporate the water in wax cells."),
    ("Translate 'good morning' into French.", "Bonjour."),
    ("Name three renewable sources of energy.", "Solar, wind and hydroelectric power."),
    ("Why is it important to get enough sleep?", "Sleep lets the body repair itself and the brain store memories."),
    ("Suggest a name for a bakery that specialises in sourdough.", "The Patient Loaf."),
    ("What causes the seasons on Earth?", "The tilt of Earth's axis: each hemisphere leans toward the sun for part of the year."),
]


def test_relevance_ranks_real_pairs_above_shuffled_ones():
    from synthloom.quality.relevance import relevance_scores

    inst = [i for i, _ in PAIRS]
    resp = [r for _, r in PAIRS]
    good, _ = relevance_scores(inst, resp)
    bad, _ = relevance_scores(inst, resp[1:] + resp[:1])
    assert (good >= 0.9).sum() >= 9, good
    assert (bad < 0.9).sum() >= 8, bad
    assert good.mean() > bad.mean() + 0.3


def gate_for(cfg: dict, base_dir: Path = EXAMPLES):
    (gate,) = build_gates([TypeAdapter(GateConfig).validate_python(cfg)], base_dir)
    return gate


def check(gate, data, meta=None):
    return asyncio.run(gate.check(Record(data, meta or {}), GateContext()))


def test_relevance_gate_calibrates_on_reference_instructions():
    gate = gate_for({"gate": "relevance", "reference": [str(SEEDS)]})
    ok = check(gate, {"instruction": "Write a poem about a lighthouse in a storm.",
                      "output": "The lamp still turns while the waves climb high,\nthe keeper keeps watch on a thundering sky."})
    assert isinstance(ok, Record) and ok.meta["scores"]["relevance"] >= 0.9
    bad = check(gate, {"instruction": "Find the most expensive item in this table: | pen | 2.50 | bag | 35.00 |",
                       "output": "The best meal ever was a steak!"})
    assert isinstance(bad, Rejection) and bad.reason == "irrelevant"
    assert bad.meta["scores"]["relevance"] < 0.9 and "relevance_cos" in bad.meta["scores"]


def test_relevance_gate_waits_for_a_pool_and_skips_labels():
    gate = gate_for({"gate": "relevance"})
    first = check(gate, {"instruction": "Explain tides.", "output": "The best meal ever was a steak!"})
    assert isinstance(first, Record) and first.meta["scores"]["relevance"] is None  # nothing to calibrate against yet
    label = check(gate, {"instruction": "Classify the review.", "output": "neutral"}, {"is_classification": True})
    assert isinstance(label, Record) and "scores" not in label.meta


# ------------------------------------------------------------------ gates from recipes

def test_gates_score_and_reject_with_a_reason():
    comp = gate_for({"gate": "completeness"})
    rej = check(comp, {"instruction": "Explain tides.", "output": "Tides are caused by the Moon's pull and"})
    assert isinstance(rej, Rejection) and rej.reason == "incomplete:cut_mid_sentence"
    assert rej.meta["scores"]["completeness"] == 0.0
    form = gate_for({"gate": "form"})
    rej = check(form, {"instruction": "The most expensive item in this table is:", "output": "The steak."})
    assert isinstance(rej, Rejection) and rej.reason == "form:fragment"
    rej = check(form, {"instruction": "What is your name?", "output": "Anna."},
                {"parent": "Write a short story about a lighthouse keeper in exactly 200 words.", "operation": "deepen"})
    assert isinstance(rej, Rejection) and rej.reason == "form:simpler_than_parent"
    ok = check(form, {"question": "How far is the Moon?", "answer": "About 384,000 km."})
    assert isinstance(ok, Record) and ok.meta["scores"]["form_kind"] == "question"


def test_signal_gate_configs_are_strict():
    with pytest.raises(ValidationError, match="min_perplexity"):
        TypeAdapter(GateConfig).validate_python({"gate": "fluency", "min_perplexity": 50, "max_perplexity": 20})
    with pytest.raises(ValidationError, match="treshold"):
        TypeAdapter(GateConfig).validate_python({"gate": "relevance", "treshold": 0.5})


def test_a_record_without_the_fields_names_the_option():
    gate = gate_for({"gate": "relevance"})
    with pytest.raises(UsageError, match="no instruction field .*instruction_field"):
        check(gate, {"text": "hello"})


# ------------------------------------------------------------------ the issue's records, through Evol-Instruct

def test_evol_instruct_rejects_the_issue_records(tmp_path):
    from synthloom.config import Recipe
    from synthloom.engine import run_recipe

    script = iter([
        ("The most expensive item in this table is:", "The best meal ever was a steak!"),
        ("Dr. No is the sixth book of the Bond series and was written at Fleming's Goldeneye estate in Jamaica.",
         "No one has read this book. It's no longer a Bond book."),
        ("What is your name?", "Name: {name} (as a whole name)."),
        ("Write a poem about the sea in exactly four rhyming lines. Mention a lighthouse, a storm at night and a "
         "small fishing boat, use at least two words that describe sound, avoid the word 'blue', and end the last "
         "line with an exclamation mark. The poem must suit children aged six to eight, should use simple words "
         "only, and each line must have no more than ten words.",
         "The waves crash loud beneath the storm,\nthe lighthouse keeps the sailors warm,\nits beam sweeps wide "
         "to the fishing boat,\nand the thunder roars as it stays afloat!"),
    ])
    current = {}

    def respond(req):
        if req.purpose == "evol_instruct:evolve":
            current["pair"] = next(script)
            return {"instruction": current["pair"][0]}
        return {"output": current["pair"][1]}

    recipe = Recipe.model_validate({
        "name": "ev", "count": 1, "quality": [], "checks": [],  # the signals alone (checks would come first)
        "generate": {"technique": "evol_instruct", "seeds": str(SEEDS), "rounds": 1,
                     "operations": ["add_constraints"], "signals": ["form", "completeness", "relevance"]},
        "engine": {"concurrency": 1, "max_attempts": 4}})
    s = run_recipe(recipe, output=tmp_path / "out", llm=ScriptedLLM(respond))
    reasons = {r for _stage, r, _n in s.rejections}
    assert {"form:fragment", "form:statement", "form:simpler_than_parent"} <= reasons, s.rejections
    assert s.accepted == 1
    (row,) = [json.loads(l) for l in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert row["instruction"].startswith("Write a poem about the sea")
    from synthloom.export.report import write_report

    paths = write_report(tmp_path / "out")
    report = json.loads(paths["json"].read_text())
    sig = report["distributions"]["signals"]
    assert sig["form"]["rejected"]["n"] == 3 and sig["form"]["threshold"] == 1.0
    assert sig["relevance"]["threshold"] == 0.9 and sig["completeness"]["accepted"]["n"] == 1
    assert "perplexity" not in sig  # fluency was not switched on
    md = paths["markdown"].read_text()
    assert "### Quality signals" in md and "![quality signals](signals.png)" in md
    assert paths["signals"].is_file()
