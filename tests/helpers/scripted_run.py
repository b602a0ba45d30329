"""A small scripted run with every quality gate, for report / sample / CLI tests.

The scripted model first answers with a list that trips each gate once, then
with distinct random-word reviews until the target is met.
"""
from __future__ import annotations

import random
from pathlib import Path

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.engine import run_recipe

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}, "label": {"type": "string", "enum": ["pos", "neg"]}},
          "required": ["text", "label"]}
SCRIPT = [
    ("I love this phone, battery lasts two days and charges fast", "pos"),
    ("Screen arrived broken, very disappointed with the courier", "neg"),
    ("As an AI language model I cannot write reviews", "pos"),                 # filter: refusal
    ("Great value and fast shipping to Oslo", "pos"),
    ("great value and FAST shipping to Oslo!", "pos"),                         # dedup: exact
    (None, None),                                                              # parse: invalid_json
    ("ok", "pos"),                                                             # filter: too_short
    ("I love this phone, the battery lasts two days and charges fast", "pos"),  # dedup: near
    ("Works fine I guess", "pos"),                                             # judge: low_score
    ("Amazing camera in low light, very sharp pictures", "neg"),               # label: mismatch
]
VOCAB = ("battery screen camera case charger cable speaker button strap lens color weight price box manual warranty "
         "bright dim loud quiet heavy light cheap sturdy fragile smooth rough warm cold quick slow sharp soft glossy "
         "matte tiny huge clever awkward handy").split()


def responder():
    state = {"i": 0}

    def respond(req):
        body = req.messages[-1]["content"]
        if req.purpose == "judge":
            bad = "Works fine I guess" in body
            return {"rationale": "vague, says nothing specific" if bad else "specific and realistic",
                    "score": 2 if bad else 4}
        if req.purpose == "label":
            return {"label": "neg" if any(w in body for w in ("broken", "fragile", "awkward")) else "pos"}
        i = state["i"]
        state["i"] += 1
        if i < len(SCRIPT):
            text, label = SCRIPT[i]
            return "not json" if text is None else {"text": text, "label": label}
        words = random.Random(i).sample(VOCAB, 9)
        text = " ".join(words)
        return {"text": text, "label": "neg" if {"fragile", "awkward"} & set(words) else "pos"}
    return respond


def make_run(tmp: Path, count: int = 8) -> Path:
    recipe = Recipe.model_validate({
        "name": "reviews", "count": count,
        "generate": {"technique": "schema", "schema": SCHEMA, "instruction": "product reviews",
                     "attributes": {"tone": ["happy", "angry", "neutral"], "product": ["phone", "case"]}},
        "quality": [{"gate": "filter", "min_words": 3}, {"gate": "dedup", "method": "minhash", "fields": ["text"]},
                    {"gate": "judge", "threshold": 3, "fields": ["text"]},
                    {"gate": "label", "labels": ["pos", "neg"]}],
        "engine": {"concurrency": 1},
    })
    run_recipe(recipe, output=tmp / "out.jsonl", llm=ScriptedLLM(responder()))
    return tmp / "out.run"
