"""Samplers draw the planned variety: reproducible per slot, distributed as declared, errors that name the fix."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from synthloom.config.samplers import SamplerConfig
from synthloom.errors import RecipeError
from synthloom.sources.samplers import Samplers

SPECS = TypeAdapter(dict[str, SamplerConfig])


def samplers(spec: dict, base: Path = Path(".")) -> Samplers:
    return Samplers(SPECS.validate_python(spec), base)


def test_the_same_slot_draws_the_same_values_and_slots_differ():
    s = samplers({"id": {"kind": "uuid"}, "who": {"kind": "person", "locale": "de_DE"},
                  "co": {"kind": "faker", "provider": "company"},
                  "n": {"kind": "number", "distribution": "norm", "params": {"loc": 50, "scale": 5}, "round": 1}})
    a, b = s.draw(3, 7), samplers({"id": {"kind": "uuid"}, "who": {"kind": "person", "locale": "de_DE"},
                                   "co": {"kind": "faker", "provider": "company"},
                                   "n": {"kind": "number", "distribution": "norm",
                                         "params": {"loc": 50, "scale": 5}, "round": 1}}).draw(3, 7)
    assert a == b  # a re-run (resume) draws the same values, and so replays the same prompts
    assert a != s.draw(3, 8) and a != s.draw(4, 7)
    assert set(a["who"]) >= {"name", "first_name", "last_name", "email", "phone", "address", "city"}
    assert a["who"]["name"] == f"{a['who']['first_name']} {a['who']['last_name']}"
    assert len({s.draw(0, i)["who"]["name"] for i in range(50)}) >= 45  # Faker, not a short list


def test_weighted_categories_and_subcategories_follow_their_weights():
    s = samplers({"plan": {"kind": "category", "values": {"free": 3, "pro": 1}},
                  "tier": {"kind": "subcategory", "of": "plan",
                           "values": {"free": ["a", "b"], "pro": {"c": 1}}}})
    draws = [s.draw(0, i) for i in range(2000)]
    plans = Counter(d["plan"] for d in draws)
    assert 0.70 < plans["free"] / 2000 < 0.80
    assert all(d["tier"] == "c" for d in draws if d["plan"] == "pro")
    assert all(d["tier"] in ("a", "b") for d in draws if d["plan"] == "free")
    assert s.targets()["tier"]["target"] == {"a": 0.375, "b": 0.375, "c": 0.25}


def test_a_plain_list_is_covered_evenly_like_an_attribute_axis():
    s = samplers({"tone": {"kind": "category", "values": ["calm", "angry", "terse"]}})
    assert Counter(s.draw(0, i)["tone"] for i in range(30)) == {"calm": 10, "angry": 10, "terse": 10}


def test_numbers_dates_and_rounding():
    s = samplers({"waits": {"kind": "number", "distribution": "poisson", "params": {"mu": 3}},
                  "amount": {"kind": "number", "distribution": "lognorm", "params": {"s": 0.5, "scale": 40},
                             "round": 2, "max": 100},
                  "day": {"kind": "date", "start": "2024-01-01", "end": "2024-01-31", "format": "%d/%m/%Y"},
                  "at": {"kind": "datetime", "start": "2024-01-01T08:00:00", "end": "2024-01-01T09:00:00"}})
    draws = [s.draw(1, i) for i in range(500)]
    assert all(isinstance(d["waits"], int) for d in draws)
    assert 2.6 < sum(d["waits"] for d in draws) / 500 < 3.4
    assert all(d["amount"] <= 100 and round(d["amount"], 2) == d["amount"] for d in draws)
    assert all(d["day"].endswith("/01/2024") for d in draws)
    assert all("2024-01-01T08:" in d["at"] or d["at"] == "2024-01-01T09:00:00" for d in draws)
    assert s.targets()["waits"]["quantiles"]["p50"] == 3.0


def test_conditional_and_expression_samplers_read_the_values_above_them():
    s = samplers({"plan": {"kind": "category", "values": ["free", "pro"]},
                  "who": {"kind": "person"},
                  "priority": {"kind": "conditional",
                               "cases": [{"when": "plan == 'pro'", "then": {"kind": "category", "values": ["high"]}}],
                               "otherwise": {"kind": "category", "values": ["low", "normal"]}},
                  "greeting": {"kind": "expression", "template": "Dear {{ who.first_name }}"},
                  "seats": {"kind": "expression", "template": "{{ 10 if plan == 'pro' else 1 }}", "type": "int"}})
    for i in range(40):
        d = s.draw(0, i)
        assert (d["priority"] == "high") == (d["plan"] == "pro")
        assert d["greeting"] == f"Dear {d['who']['first_name']}"
        assert d["seats"] == (10 if d["plan"] == "pro" else 1)


def test_seed_rows_several_per_record_without_replacement_and_stratified(tmp_path):
    (tmp_path / "people.csv").write_text("name,segment\n" + "".join(f"p{i},{'big' if i < 2 else 'small'}\n"
                                                                     for i in range(10)))
    s = samplers({"row": {"kind": "rows", "path": "people.csv", "rows": 2}}, tmp_path)
    used = [r["name"] for i in range(5) for r in s.draw(0, i)["row"]]
    assert sorted(used) == sorted(f"p{i}" for i in range(10))  # every row once before any row again
    strat = samplers({"row": {"kind": "rows", "path": "people.csv", "stratify": "segment"}}, tmp_path)
    segments = Counter(strat.draw(0, i)["row"]["segment"] for i in range(100))
    assert segments == {"big": 50, "small": 50}  # 2 rows of 10 get half the records
    (tmp_path / "rows.jsonl").write_text('{"q": "a"}\n{"q": "b"}\n')
    assert samplers({"r": {"kind": "rows", "path": "rows.jsonl", "replace": True}}, tmp_path).draw(0, 0)["r"]["q"] in "ab"


def test_errors_name_the_sampler_and_the_fix(tmp_path):
    with pytest.raises(RecipeError, match=r"generate.samplers.greeting reads 'who'.*declared below"):
        samplers({"greeting": {"kind": "expression", "template": "{{ who.name }}"}, "who": {"kind": "person"}})
    with pytest.raises(RecipeError, match=r"samplers.n.distribution: scipy.stats has no distribution 'gauss'"):
        samplers({"n": {"kind": "number", "distribution": "gauss"}})
    with pytest.raises(RecipeError, match=r"samplers.c.provider: Faker has no provider 'compny'"):
        samplers({"c": {"kind": "faker", "provider": "compny"}})
    with pytest.raises(RecipeError, match=r"samplers.r.stratify: people.csv has no column 'segmnt'"):
        (tmp_path / "people.csv").write_text("name,segment\na,b\n")
        samplers({"r": {"kind": "rows", "path": "people.csv", "stratify": "segmnt"}}, tmp_path)
    with pytest.raises(RecipeError, match=r"samplers.r.path: no file"):
        samplers({"r": {"kind": "rows", "path": "missing.csv"}}, tmp_path)
    with pytest.raises(ValidationError, match="kind"):
        SPECS.validate_python({"x": {"kind": "categroy", "values": ["a"]}})
    with pytest.raises(ValidationError, match="extra"):
        SPECS.validate_python({"x": {"kind": "category", "values": ["a"], "weight": 2}})


def test_seed_rows_from_parquet_and_json(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"city": ["Lyon", "Porto", "Graz"], "size": [3, 1, 2]}), tmp_path / "cities.parquet")
    s = samplers({"c": {"kind": "rows", "path": "cities.parquet", "rows": 3}}, tmp_path)
    assert sorted(r["city"] for r in s.draw(0, 0)["c"]) == ["Graz", "Lyon", "Porto"]
    (tmp_path / "rows.json").write_text('[{"q": 1}, {"q": 2}]')
    assert samplers({"r": {"kind": "rows", "path": "rows.json"}}, tmp_path).draw(0, 0)["r"]["q"] in (1, 2)
    (tmp_path / "bad.json").write_text('{"q": 1}')
    with pytest.raises(RecipeError, match="must hold rows"):
        samplers({"r": {"kind": "rows", "path": "bad.json"}}, tmp_path)
