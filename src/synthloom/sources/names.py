"""Sampled names and identifiers for the fields a recipe declares (`names: {author: person}`).

A small model asked to invent a business writes `XYZ`, `John Doe`, or the same name for
two parties (measured on the bundled model: 30 of 57 generated labels had a placeholder).
Like the samplers of NVIDIA DataDesigner, the `documents` technique can instead draw the
value of each field the recipe declares before decoding: people and companies from Faker
(made up: no real person or company is meant), distinct within one record and reproducible
from the slot's seed. The decoder is then pinned to that value, and the model writes the rest
of the record around it. Which fields hold names is the recipe's to say: nothing here reads a
field's name. (A recipe's `samplers:` draw more kinds, in other locales: sources/samplers.py.)
"""
from __future__ import annotations

import random
import re
from typing import Any, Mapping

from .samplers import faker

LOCALE = "en_US"


def _seeded(rng: random.Random) -> Any:
    fake = faker(LOCALE, "names")
    fake.seed_instance(rng.getrandbits(64))
    return fake


def business_name(rng: random.Random) -> str:
    return " ".join(_seeded(rng).company().split())


def person_name(rng: random.Random) -> str:
    fake = _seeded(rng)
    return f"{fake.first_name()} {fake.last_name()}"


def sample_names(schema: Mapping[str, Any], kinds: Mapping[str, str], rng: random.Random) -> dict[str, str]:
    """One distinct name per declared field (`person` or `business`), within each field's length bounds
    (a field no name fits is left to the model)."""
    out: dict[str, str] = {}
    for key, kind in kinds.items():
        sub = (schema.get("properties") or {}).get(key) or {}
        lo, hi = int(sub.get("minLength", 0) or 0), sub.get("maxLength")
        for _ in range(20):
            value = person_name(rng) if kind == "person" else business_name(rng)
            if lo <= len(value) and (hi is None or len(value) <= hi) and value not in out.values():
                out[key] = value
                break
    return out


def id_examples(fields: list[str], shown: Mapping[str, list[Any]]) -> dict[str, str]:
    """For each declared identifier field, an example with digits to draw fresh ones from (`shown`: values
    per schema path, `narrowing.example_values_by_path`: the few-shot labels', then the schema's own
    `e.g. AP-0093`). A field with none is left to the model."""
    out = {}
    for key in fields:
        seen = [str(v) for v in shown.get("/properties/" + key.replace("~", "~0").replace("/", "~1"), ())]
        example = next((e for e in seen if re.search(r"\d", e)), None)
        if example:
            out[key] = example
    return out


def sample_ids(examples: Mapping[str, str], rng: random.Random) -> dict[str, str]:
    """A fresh identifier in the shape of each example: its letters and separators kept, its digits drawn
    (`AP-0093` -> `AP-5821`); a draw equal to the example is drawn again."""
    out = {}
    for key, example in examples.items():
        for _ in range(10):
            value = re.sub(r"\d", lambda _m: str(rng.randrange(10)), example)
            if value.lower() != example.lower():
                out[key] = value
                break
    return out
