"""Schemas whose root is not an object (an array, a string, a union): the logic, on a scripted model.

The same three roots run end to end on the bundled model in test_schema_roots_model.py.
"""
from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest

from synthloom.engine import arun_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import RecipeError, UsageError
from synthloom.export.dataset import export_run
from synthloom.quality.base import GateContext
from synthloom.quality.dedup import DedupGate
from synthloom.records import Record, Rejection
from tests.fakes import ScriptedLLM

LINE_ITEMS = {"type": "array", "minItems": 1, "title": "Order lines",
              "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                        "required": ["sku", "qty"]}}
CODE = {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$", "title": "Product code"}
UNION = {"type": ["object", "boolean"], "properties": {"reason": {"type": "string"}}, "required": ["reason"]}


def _run(tmp_path: Path, schema, answers, output: str = "out.jsonl", count: int = 3, **generate):
    it = iter(answers)
    llm = ScriptedLLM(lambda req: json.dumps(next(it)))  # a string answer is a JSON string
    data = {"name": "roots", "count": count, "generate": {"technique": "schema", "schema": schema, **generate},
            "engine": {"seed": 0, "max_attempts": 20}}
    summary = asyncio.run(arun_recipe(recipe_from_dict(data, "test"), base_dir=tmp_path, output=tmp_path / output,
                                      llm=llm))
    return summary, llm


def _lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_array_root_records_are_arrays_in_jsonl_and_one_json_column_in_parquet(tmp_path):
    answers = ([{"sku": f"A-{i}", "qty": i}] for i in itertools.count(1))
    summary, llm = _run(tmp_path, LINE_ITEMS, answers)
    assert summary.accepted == 3
    assert _lines(tmp_path / "out.jsonl") == [[{"sku": "A-1", "qty": 1}], [{"sku": "A-2", "qty": 2}],
                                              [{"sku": "A-3", "qty": 3}]]
    system = llm.requests[0].messages[0]["content"]
    assert "each record is one JSON array" in system and "Fields of each item" in system and "sku" in system
    assert "Reply with one JSON array only." in system

    summary, _ = _run(tmp_path, LINE_ITEMS, ([{"sku": f"A-{i}", "qty": i}] for i in itertools.count(1)),
                      output="out.parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == ["value"] and str(table.schema.field("value").type) == "extension<arrow.json>"
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "out.parquet"), split="train")
    assert ds["value"] == [[{"sku": "A-1", "qty": 1}], [{"sku": "A-2", "qty": 2}], [{"sku": "A-3", "qty": 3}]]


def test_hf_and_parquet_exports_of_an_array_run_load_with_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    _run(tmp_path, LINE_ITEMS, ([{"sku": f"A-{i}", "qty": i}] for i in itertools.count(1)), count=5)
    export_run(tmp_path / "out.run", "hf", tmp_path / "hf", split="0.6,0.4")
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    values = [v for split in dd.values() for v in split["value"]]
    assert sorted(v[0]["qty"] for v in values) == [1, 2, 3, 4, 5]
    export_run(tmp_path / "out.run", "parquet", tmp_path / "pq", split="0.6,0.4")
    ds = datasets.load_dataset(str(tmp_path / "pq"))
    assert sum(len(s) for s in ds.values()) == 5 and isinstance(ds["train"][0]["value"], list)
    with pytest.raises(UsageError, match="chat formats need records with instruction and response fields.*JSON array"):
        export_run(tmp_path / "out.run", "openai", tmp_path / "ft")


def test_string_root_with_a_pattern_keeps_the_string_and_rejects_a_miss(tmp_path):
    summary, llm = _run(tmp_path, CODE, iter(["ABC-123", "abcd", "KLM-999", "QRS-555"]), count=3)
    assert summary.accepted == 3
    assert _lines(tmp_path / "out.jsonl") == ["ABC-123", "KLM-999", "QRS-555"]
    from synthloom.runs import RunStore

    with RunStore(tmp_path / "out.run" / "store.sqlite") as store:
        (rej,) = list(store.rejections())
    assert rej.reason == "schema:pattern" and rej.data == "abcd"
    assert "each record is one JSON string" in llm.requests[0].messages[0]["content"]


def test_union_root_delivers_objects_and_booleans_as_the_schema_describes(tmp_path):
    summary, _ = _run(tmp_path, UNION, iter([{"reason": "out of stock"}, True, False]), output="u.csv")
    assert summary.accepted == 3
    rows = (tmp_path / "u.csv").read_text().splitlines()
    assert rows == ["value", '"{""reason"":""out of stock""}"', "true", "false"]
    _run(tmp_path, UNION, iter([{"reason": "out of stock"}, True, False]), output="u.jsonl")
    assert _lines(tmp_path / "u.jsonl") == [{"reason": "out of stock"}, True, False]
    # a sample that happens to hold objects only still has the union's shape: one value column
    _run(tmp_path, UNION, iter([{"reason": "late"}, {"reason": "broken"}]), output="o.parquet", count=2)
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "o.parquet").column_names == ["value"]
    with pytest.raises(UsageError, match="JSON boolean/object values"):
        export_run(tmp_path / "o.run", "openai", tmp_path / "ft")


def test_wrap_stores_each_value_under_one_field(tmp_path):
    summary, _ = _run(tmp_path, CODE, iter(["ABC-123", "KLM-999"]), count=2, wrap="code", examples=["DEF-456"])
    assert _lines(tmp_path / "out.jsonl") == [{"code": "ABC-123"}, {"code": "KLM-999"}]
    with pytest.raises(RecipeError, match="examples are values of the schema itself, before wrap"):
        _run(tmp_path, CODE, iter([]), wrap="code", examples=[{"code": "DEF-456"}])


def test_attributes_and_field_gates_on_a_root_without_fields_say_they_need_named_fields(tmp_path):
    with pytest.raises(RecipeError, match=r"generate.attributes \(tone\).*root is string, which has no named fields"):
        _run(tmp_path, CODE, iter([]), attributes={"tone": ["formal"]})
    data = {"name": "roots", "count": 2, "engine": {"seed": 0},
            "generate": {"technique": "schema", "schema": CODE},
            "quality": [{"gate": "label", "labels": ["a", "b"]}]}
    llm = ScriptedLLM(lambda req: json.dumps("ABC-123"))
    with pytest.raises(RecipeError, match="gate label: label_field: 'label' names a field.*JSON string"):
        asyncio.run(arun_recipe(recipe_from_dict(data, "test"), base_dir=tmp_path, output=tmp_path / "l.jsonl",
                                llm=llm))


def test_dedup_on_array_records_exact_and_near():
    async def go(gate, recs):
        out = []
        for r in recs:
            got = await gate.check(r, GateContext(llm=None))
            if isinstance(got, Record):
                gate.commit(got)
            out.append(got)
        return out

    recs = [Record([{"sku": "A-1", "qty": 2}]), Record([{"sku": "A-1", "qty": 2}]), Record([{"sku": "B-7", "qty": 1}])]
    out = asyncio.run(go(DedupGate(), recs))
    assert [type(x).__name__ for x in out] == ["Record", "Rejection", "Record"]
    lines = [f"line {i}: the quick brown fox jumps over the lazy dog near the river bank" for i in range(3)]
    near = [Record(lines), Record(lines[:2] + ["line 2: the quick brown fox jumps over the lazy dog near a river bank"])]
    out = asyncio.run(go(DedupGate(method="minhash", threshold=0.7), near))
    assert isinstance(out[1], Rejection) and out[1].stage == "dedup"
    with pytest.raises(RecipeError, match=r"fields \['sku'\].*JSON array"):
        asyncio.run(go(DedupGate(fields=["sku"]), recs[:1]))


def test_review_items_and_report_read_a_string_run(tmp_path):
    _run(tmp_path, CODE, iter(["ABC-123", "KLM-999", "QRS-555"]))
    from synthloom.export.report import build_report
    from synthloom.review.items import load_items
    from synthloom.review.sample import write_sample

    report = build_report(tmp_path / "out.run", embedder=None)
    assert report["diversity"]["n"] == 3
    items = load_items(tmp_path / "out.run")
    assert sorted(r.data for r in items.accepted.values()) == ["ABC-123", "KLM-999", "QRS-555"]
    assert items.label_field() is None
    sample = write_sample(tmp_path / "out.run", 2)
    md = sample["markdown"].read_text()
    assert '- **value** (string): "' in md


def test_dedup_and_filter_commands_write_array_and_string_lines_back_as_they_were(tmp_path):
    from typer.testing import CliRunner

    from synthloom.cli import app

    src = tmp_path / "in.jsonl"
    src.write_text('[{"sku": "A-1", "qty": 2}]\n[{"sku": "A-1", "qty": 2}]\n'
                   '"As an AI language model I cannot help with that request"\n"A sturdy oak table for six people"\n')
    res = CliRunner().invoke(app, ["dedup", str(src), "-o", str(tmp_path / "d.jsonl")])
    assert res.exit_code == 0, res.output
    assert _lines(tmp_path / "d.jsonl") == [[{"sku": "A-1", "qty": 2}],
                                            "As an AI language model I cannot help with that request",
                                            "A sturdy oak table for six people"]
    res = CliRunner().invoke(app, ["filter", str(tmp_path / "d.jsonl"), "-o", str(tmp_path / "f.jsonl")])
    assert res.exit_code == 0, res.output
    assert _lines(tmp_path / "f.jsonl") == [[{"sku": "A-1", "qty": 2}], "A sturdy oak table for six people"]


def test_a_root_array_closed_at_its_item_bound_is_kept_a_value_cut_inside_it_is_not():
    from synthloom.generators.base import parse_value
    from synthloom.llm.types import GenerationResult

    items = [{"sku": "A-1", "tags": ["new"]}, {"sku": "A-2", "tags": ["sale"]}]
    closed = GenerationResult(text=json.dumps(items), parsed=items, truncated=("(root)",))
    assert parse_value(closed, {}) == (items, None)
    inner = GenerationResult(text=json.dumps(items), parsed=items, truncated=("[1].tags", "(root)"))
    value, rej = parse_value(inner, {})
    assert value is None and rej.reason == "truncated_value" and rej.detail.startswith("[1].tags cut off")
    text = GenerationResult(text='"a long descr"', parsed="a long descr", truncated=("(root)",))
    assert parse_value(text, {})[1].reason == "truncated_value"  # a string root cut off is still cut off


def test_a_root_without_type_but_with_properties_is_decoded_as_an_object(tmp_path):
    """JSON Schema lets a bare number through such a root, and the small model wrote one (JSONSchemaBench
    GitHub-Hard o79664): the decoder is given `type: object`; the record is validated as written."""
    schema = {"properties": {"name": {"type": "string"}}, "required": ["name"]}
    summary, llm = _run(tmp_path, schema, iter([{"name": "Ada"}]), count=1)
    assert llm.requests[0].json_schema["type"] == "object" and summary.accepted == 1
    assert _lines(tmp_path / "out.jsonl") == [{"name": "Ada"}]
    from synthloom.generators.schema_io import with_implied_root_type

    assert with_implied_root_type({"items": {"type": "string"}})["type"] == "array"
    assert "type" not in with_implied_root_type({"anyOf": [{"properties": {}}, {"type": "string"}]})


def test_an_object_root_prompt_is_unchanged_so_existing_call_caches_replay():
    from synthloom.prompts import load

    text = load("schema_system").render(instruction="Tickets", title="T", description="d",
                                        fields=["a (string)", "b"], root=None)
    assert text == ("You write realistic, varied synthetic data records as JSON objects.\nTask: Tickets\n"
                    "Record type: T (d)\nFields:\n- a (string)\n- b\nEach record must be new and different from "
                    "the examples. Reply with one JSON object only.")
