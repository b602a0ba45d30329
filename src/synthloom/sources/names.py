"""Sampled names for the name fields of a record (`seller`, `buyer`, `customer_name`, ...).

A small model asked to invent a business writes `XYZ`, `John Doe`, or the same name for
both parties (measured on the bundled model: 30 of 57 invoice labels had a placeholder,
5 had seller == buyer). Like the samplers of NVIDIA DataDesigner, the `documents`
technique can instead draw each name field's value before decoding, from the
combinations below (30 x 30 businesses, 40 x 40 people: no real company or person is
meant), distinct within one record and reproducible from the slot's seed. The decoder is
then pinned to that value, and the model writes the rest of the record around it.
"""
from __future__ import annotations

import random
import re
from typing import Any, Mapping

_BUSINESS_FIRST = (
    "Harbor", "Oakridge", "Blue Fern", "Northgate", "Silver Birch", "Redwood", "Maple Lane", "Copper Hill",
    "Riverside", "Summit", "Brightwater", "Cedar Point", "Golden Field", "Stonebridge", "Lakeshore", "Westbrook",
    "Pinecrest", "Meadowlark", "Ironwood", "Clearview", "Fairhaven", "Juniper", "Bluestone", "Highland",
    "Willow Creek", "Eastwind", "Greenleaf", "Sandpiper", "Kingsley", "Ashford",
)
_BUSINESS_KIND = (
    "Bakery", "Dental Clinic", "Logistics", "Software Ltd", "Hardware Store", "Consulting", "Print Shop",
    "Veterinary Clinic", "Builders", "Florist", "Law Office", "Accounting", "Cafe", "Auto Repair", "Pharmacy",
    "Textiles", "Electric Co", "Marketing Group", "Bookshop", "Fitness Studio", "Catering", "Plumbing",
    "Architects", "Travel Agency", "Furniture", "Cleaning Services", "Engineering", "Photography",
    "Garden Center", "Medical Supplies",
)
_FIRST = (
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keira", "Luis", "Maya",
    "Nikolai", "Olivia", "Pavel", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf",
    "Zoe", "Amir", "Bianca", "Chen", "Daria", "Emil", "Fatima", "Gustav", "Hana", "Ivan", "Julia", "Kofi",
    "Lena", "Marco", "Nadia",
)
_LAST = (
    "Adler", "Baptiste", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ibrahim", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero", "Rossi", "Schmidt", "Tanaka",
    "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zimmer", "Alvarez", "Brennan", "Castillo", "Dimitrov", "Ellis",
    "Ferreira", "Gallagher", "Horvat", "Iyer", "Jovanovic", "Kim", "Larsen", "Mendes", "Novak",
)
_PERSON_FIELD = re.compile(r"(^|_)(name|author|contact|sender|recipient|payee|employee|patient|person|"
                           r"first_name|last_name|full_name)$", re.IGNORECASE)


def business_name(rng: random.Random) -> str:
    return f"{rng.choice(_BUSINESS_FIRST)} {rng.choice(_BUSINESS_KIND)}"


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _free_string(sub: Any) -> bool:
    """A string property whose value the schema leaves free (no enum, const, pattern or format)."""
    return isinstance(sub, Mapping) and sub.get("type") == "string" and not any(
        k in sub for k in ("enum", "const", "pattern", "format"))


def name_fields(schema: Mapping[str, Any]) -> list[str]:
    """Top-level string properties that hold a name and leave its value free (no enum, const, pattern, format)."""
    from ..llm.runaway import name_like

    out = []
    for key, sub in (schema.get("properties") or {}).items():
        if _free_string(sub) and name_like(key):
            out.append(key)
    return out


def sample_names(schema: Mapping[str, Any], fields: list[str], rng: random.Random) -> dict[str, str]:
    """One distinct name per field, within each field's length bounds (a field no name fits is left free)."""
    out: dict[str, str] = {}
    for key in fields:
        sub = schema["properties"][key]
        lo, hi = int(sub.get("minLength", 0) or 0), sub.get("maxLength")
        person = bool(_PERSON_FIELD.search(key)) and not re.search(r"compan|business|store|shop", key, re.I)
        for _ in range(20):
            value = person_name(rng) if person else business_name(rng)
            if lo <= len(value) and (hi is None or len(value) <= hi) and value not in out.values():
                out[key] = value
                break
    return out


def id_fields(schema: Mapping[str, Any], shown: Mapping[str, set[str]]) -> dict[str, str]:
    """Top-level identifier fields whose schema shows an example with digits (`e.g. AP-0093`): field -> example."""
    from ..llm.runaway import identifier_like

    out = {}
    for key, sub in (schema.get("properties") or {}).items():
        if not (_free_string(sub) and identifier_like(key)):
            continue
        example = next((e for e in sorted(shown.get(key, ())) if re.search(r"\d", e)), None)
        if example:
            out[key] = example
    return out


def sample_ids(examples: Mapping[str, str], rng: random.Random) -> dict[str, str]:
    """A fresh identifier in the shape of each example: its letters and separators kept, its digits drawn
    (`AP-0093` -> `AP-5821`); a draw equal to the example is drawn again."""
    out = {}
    for key, example in examples.items():
        for _ in range(10):
            value = re.sub(r"\d", lambda _m: str(rng.randrange(10)), example.upper())
            if value != example.upper():
                out[key] = value
                break
    return out
