"""What the decoder narrows comes only from what the user wrote: the schema and the examples.

The zoo (benchmarks/zoo/*.yaml) holds thirteen schemas from domains the project never used, with two
few-shot examples each; every property here is checked on all of them.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from synthloom.llm import narrowing, runaway
from synthloom.llm.structured import validation_errors

ZOO = sorted((Path(__file__).parents[2] / "benchmarks" / "zoo").glob("*.yaml"))


def zoo(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_the_zoo_has_a_dozen_domains():
    assert len(ZOO) >= 12


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_no_narrowing_excludes_the_users_own_examples(path):
    """A narrowing learned from the examples must accept every one of them, on every try."""
    case = zoo(path)
    learned = narrowing.learn(case["schema"], case["examples"])
    hints = runaway.length_hints(case["schema"], case["examples"])
    for attempt in range(3):
        decoding = runaway.attempt_schema(case["schema"], attempt, hints, learned)
        for ex in case["examples"]:
            # multipleOf is checked as decimals (jsonschema divides floats: 47.25 / 0.01 != 4725)
            plain = _without_multiple_of(decoding)
            assert not validation_errors(ex, plain), (path.stem, attempt, ex)
            for key, value in ex.items():
                step = (decoding["properties"].get(key) or {}).get("multipleOf")
                if step is not None:
                    assert Decimal(repr(value)) % Decimal(repr(step)) == 0, (key, value, step)


def _without_multiple_of(node):
    if isinstance(node, dict):
        return {k: _without_multiple_of(v) for k, v in node.items() if k != "multipleOf"}
    if isinstance(node, list):
        return [_without_multiple_of(v) for v in node]
    return node


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_free_text_is_never_narrowed_and_every_narrowing_is_listed(path):
    case = zoo(path)
    learned = narrowing.learn(case["schema"], case["examples"])
    lines = learned.lines()
    assert len(lines) == sum(len(v) for v in learned.by_path.values())
    for key, sub in case["schema"]["properties"].items():
        values = [ex[key] for ex in case["examples"]]
        if sub.get("type") == "string" and any(isinstance(v, str) and " " in v for v in values):
            assert f"/properties/{key}" not in learned.by_path, (key, lines)  # words: left free
        if "enum" in sub:
            assert f"/properties/{key}" not in learned.by_path
        narrowed = learned.by_path.get(f"/properties/{key}")
        if narrowed:
            assert any(line.startswith(f"{key}: ") and "from " in line for line in lines)


def test_the_scientists_of_the_issue_keep_their_formats():
    """The schema of the report that opened the issue: codes, dates of the 1800s, an archive address."""
    case = zoo(next(p for p in ZOO if p.stem == "history"))
    learned = narrowing.learn(case["schema"], case["examples"])
    kw = {p.rsplit("/", 1)[-1]: learned.keywords(p) for p in learned.by_path}
    assert re.fullmatch(kw["currency_code"]["pattern"], "GBP") and not re.fullmatch(kw["currency_code"]["pattern"],
                                                                                    "GBK-1853")
    assert re.fullmatch(kw["country_code"]["pattern"], "DE") and not re.fullmatch(kw["country_code"]["pattern"], "PLU-220")
    assert re.fullmatch(kw["record_id"]["pattern"], "0f8fad5b-d9cb-469f-a165-70867728950e")
    assert not re.fullmatch(kw["record_id"]["pattern"], "18101741-20")
    date = kw["birth_date"]["pattern"]
    assert re.fullmatch(date, "1843-12-11") and re.fullmatch(date, "1919-01-31")
    assert not re.fullmatch(date, "1956-07-20") and not re.fullmatch(date, "1799-07-20")
    assert not re.fullmatch(date, "1843-02-30") and not re.fullmatch(date, "1843-04-31")
    assert "name" not in kw and "field" not in kw  # names and words stay free
    lines = learned.lines()
    assert "currency_code: pattern ^[A-Z]{3}$ (from 2 examples)" in lines
    assert "birth_date: real calendar date, years 1800-1919 (from format: date and 2 examples)" in lines


@pytest.mark.parametrize("values, pattern", [
    (["PLN", "EUR"], "^[A-Z]{3}$"),
    (["#1f77b4", "#ff7f0e"], "^#[0-9a-f]{6}$"),
    (["1867-11-07", "1858-04-23"], "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    (["2.4.1", "10.0.3"], r"^[0-9]{1,4}\.[0-9]{1,2}\.[0-9]{1,2}$"),
    (["AP-0093", "SB-221"], "^[A-Z]{2}-[0-9]{3,8}$"),
    (["jazz", "blues"], None),  # words, not codes
    (["Koch", "Dalton"], None),
    (["EUR"], None),  # one example shows a format, not a shape all values share
    (["EUR", "12-4"], None),  # examples that disagree: free
    (["A1", "B2"], "^[A-Z0-9]{2}$"),  # too few characters to call them hex
])
def test_shapes(values, pattern):
    assert narrowing.shape_pattern(values) == pattern


def test_numbers_keep_the_examples_precision_and_magnitude():
    schema = {"type": "object", "properties": {"x": {"type": "number"}, "n": {"type": "integer", "minimum": 0},
                                               "free": {"type": "number"}}}
    learned = narrowing.learn(schema, [{"x": 0.0035, "n": 1_400_000_000}, {"x": 0.5, "n": 38_000_000, "free": 1.5}])
    assert learned.keywords("/properties/x") == {"multipleOf": 0.0001, "maximum": 100, "minimum": -100}
    assert learned.keywords("/properties/n") == {"maximum": 10 ** 12}  # 1.4e9 fits; the schema's minimum stays
    assert "/properties/free" not in learned.by_path  # one example: free
    whole = narrowing.learn(schema, [{"x": 49.0}, {"x": 12}])
    assert whole.keywords("/properties/x")["multipleOf"] == 1
    decoding = runaway.attempt_schema(schema, 0, narrowings=learned)["properties"]
    assert decoding["x"]["multipleOf"] == 0.0001 and decoding["n"]["maximum"] == 10 ** 12


def test_each_kind_can_be_switched_off_and_a_field_skipped():
    case = zoo(next(p for p in ZOO if p.stem == "history"))
    none = narrowing.learn(case["schema"], case["examples"], shapes=False, dates=False, numbers=False)
    assert not none and none.lines() == []
    skipped = narrowing.learn(case["schema"], case["examples"], skip=["currency_code"])
    assert not any(line.startswith("currency_code") for line in skipped.lines())
    assert any(line.startswith("country_code") for line in skipped.lines())


def test_a_pinned_or_enum_field_is_not_narrowed_again():
    schema = {"type": "object", "properties": {"code": {"type": "string"}}}
    learned = narrowing.learn(schema, [{"code": "AB"}, {"code": "CD"}])
    pinned = {"type": "object", "properties": {"code": {"type": "string", "enum": ["Poland"]}}}
    assert "pattern" not in runaway.attempt_schema(pinned, 0, narrowings=learned)["properties"]["code"]


def test_values_the_schema_shows_count_as_examples():
    schema = {"type": "object", "properties": {
        "sku": {"type": "string", "description": "stock keeping unit, e.g. KX-2231", "examples": ["QP-1180"]}}}
    assert narrowing.learn(schema, []).lines() == ["sku: pattern ^[A-Z]{2}-[0-9]{4}$ (from 2 examples)"]
