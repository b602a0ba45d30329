"""Schemas whose root is an array, a string with a pattern, or a union, end to end on the bundled model
through `synthloom generate schema` and `synthloom export`; the files load with `datasets`."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from synthloom.cli import app

pytestmark = pytest.mark.model

TAGS = {"title": "Tags of a cooking recipe", "type": "array", "minItems": 2, "maxItems": 4,
        "items": {"type": "string", "minLength": 3, "maxLength": 20}}
CODE = {"title": "Airport code", "description": "An IATA airport code", "type": "string",
        "pattern": "^[A-Z]{3}$"}
UNION = {"title": "Delivery check", "description": "The problem found with a delivery, or true when none",
         "type": ["object", "boolean"],
         "properties": {"problem": {"type": "string", "maxLength": 80}, "severity": {"enum": ["low", "high"]}},
         "required": ["problem", "severity"]}


def _generate(tmp_path: Path, name: str, schema: dict, n: int, suffix: str = "jsonl") -> Path:
    path = tmp_path / f"{name}.schema.json"
    path.write_text(json.dumps(schema))
    out = tmp_path / f"{name}.{suffix}"
    res = CliRunner().invoke(app, ["generate", "schema", "--schema", str(path), "-n", str(n), "-o", str(out),
                                   "--max-attempts", "12"])
    assert res.exit_code == 0, res.output
    return out


def _valid(schema: dict, values: list) -> None:
    for v in values:
        jsonschema.validate(v, schema, format_checker=jsonschema.FormatChecker())


def test_array_root_jsonl_and_hf_export(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = _generate(tmp_path, "tags", TAGS, 3)
    values = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(values) == 3 and all(isinstance(v, list) for v in values)
    _valid(TAGS, values)
    res = CliRunner().invoke(app, ["export", str(tmp_path / "tags.run"), "--format", "hf", "--split", "1",
                                   "-o", str(tmp_path / "hf")])
    assert res.exit_code == 0, res.output
    ds = datasets.load_from_disk(str(tmp_path / "hf"))["train"]
    assert sorted(map(json.dumps, ds["value"])) == sorted(map(json.dumps, values))


def test_string_root_with_a_pattern_to_parquet(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = _generate(tmp_path, "codes", CODE, 3, suffix="parquet")
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert len(ds) == 3 and len(set(ds["value"])) == 3
    _valid(CODE, ds["value"])


def test_union_root_values_as_the_schema_describes(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = _generate(tmp_path, "checks", UNION, 2)
    values = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(values) == 2
    _valid(UNION, values)
    res = CliRunner().invoke(app, ["export", str(tmp_path / "checks.run"), "--format", "parquet", "--split", "1",
                                   "-o", str(tmp_path / "pq")])
    assert res.exit_code == 0, res.output
    ds = datasets.load_dataset(str(tmp_path / "pq"), split="train")
    assert sorted(map(json.dumps, ds["value"])) == sorted(map(json.dumps, values))
