"""Parquet and CSV outputs are written as a stream: what reads back is every record, and memory stays
at one row group however many records a run made."""
from __future__ import annotations

import asyncio
import csv
import json
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthloom.engine import arun_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.records import Record
from synthloom.runs import open_store, table_stream
from synthloom.runs.store import RunStore
from synthloom.runs.writers import arrow_table, write_records
from tests.fakes import ScriptedLLM


def records(n: int, start: int = 0):
    for i in range(start, start + n):
        yield Record(data={"text": f"a product description, item {i}, " + "x" * 150, "n": i, "tags": ["a", str(i)]},
                     meta={"slot": i})


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(table_stream, "ROWS_PER_GROUP", 4)


def test_parquet_widens_as_later_records_need_and_reads_back_every_record(tmp_path, small_groups):
    recs = [Record({"n": i, "label": "a"}, {}) for i in range(5)]
    recs += [Record({"n": 2.5, "label": "b", "extra": [1, 2]}, {})]        # float after ints; a new field
    recs += [Record({"n": 7, "label": 3}, {}) for _ in range(6)]            # label: a string, then an int
    n = write_records(iter(recs), tmp_path / "o.parquet")                     # a one-shot iterator, as from the store
    table = pq.read_table(tmp_path / "o.parquet")
    assert n == 12 and table.num_rows == 12
    assert table.column_names == ["n", "label", "extra"]
    assert table.schema.field("n").type == pa.float64()
    assert table.schema.field("extra").type == pa.list_(pa.int64())
    assert table.schema.field("label").type == pa.json_()                    # mixed types: JSON text
    rows = table.to_pylist()
    assert [r["n"] for r in rows] == [0, 1, 2, 3, 4, 2.5] + [7] * 6
    assert [json.loads(r["label"]) for r in rows] == ["a"] * 5 + ["b"] + [3] * 6
    assert [r["extra"] for r in rows] == [None] * 5 + [[1, 2]] + [None] * 6
    # the same table as one built from all the rows at once
    whole = arrow_table([r.data for r in recs])
    assert table.schema == whole.schema and rows == whole.to_pylist()


def test_a_record_that_is_not_an_object_late_in_the_run_moves_every_record_to_the_value_column(tmp_path, small_groups):
    recs = [Record({"reason": f"r{i}"}, {"slot": i}) for i in range(9)] + [Record(True, {"slot": 9})]
    write_records(iter(recs), tmp_path / "o.parquet", with_meta=True)
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.column_names == ["value", "_meta"]
    assert [json.loads(v) for v in table.column("value").to_pylist()] == [r.data for r in recs]
    assert table.column("_meta").to_pylist() == [{"slot": i} for i in range(10)]
    write_records(iter(recs), tmp_path / "o.csv")
    assert csv_rows(tmp_path / "o.csv") == [["value"]] + [[json.dumps(r.data).replace(" ", "")] for r in recs]


def test_csv_adds_a_field_first_seen_late_and_writes_lists_as_json(tmp_path, small_groups):
    recs = [Record({"q": f"q{i}", "a": "yes"}, {}) for i in range(6)]
    recs.append(Record({"q": "q6", "a": "no", "src": ["doc"]}, {}))
    assert write_records(iter(recs), tmp_path / "o.csv") == 7
    rows = csv_rows(tmp_path / "o.csv")
    assert rows[0] == ["q", "a", "src"]
    assert rows[1] == ["q0", "yes", ""] and rows[-1] == ["q6", "no", '["doc"]'] and len(rows) == 8


def _store(path: Path, n: int) -> RunStore:
    store = RunStore(path)
    store.begin_run("r", "scale", {}, {})
    batch = []
    for i, rec in enumerate(records(n)):
        batch.append((i, [rec], []))
        if len(batch) == 1000:
            store.commit_batch("r", [], batch, {})
            batch = []
    store.commit_batch("r", [], batch, {})
    return store


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_writing_from_the_store_holds_one_row_group_not_the_run(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(table_stream, "ROWS_PER_GROUP", 500)
    peaks = {}
    for n in (2_000, 20_000):
        store = _store(tmp_path / f"{n}.sqlite", n)
        out = tmp_path / f"{n}.{fmt}"
        peaks[n] = _peak_bytes(lambda: write_records(store.iter_accepted("r"), out))
        store.close()
        got = pq.read_table(out).to_pylist() if fmt == "parquet" else csv_rows(out)[1:]
        assert len(got) == n
        want = [r.data for r in records(n)]
        if fmt == "csv":
            want = [[d["text"], str(d["n"]), json.dumps(d["tags"]).replace(" ", "")] for d in want]
        assert got == want
    # the whole 20k run held in memory would be ~10x the 2k peak; one group of 500 rows is the same for both
    assert peaks[20_000] < 1.5 * peaks[2_000], peaks


def test_a_run_with_parquet_output_writes_every_accepted_record(tmp_path, small_groups):
    answers = iter(range(10**6))
    llm = ScriptedLLM(lambda req: json.dumps({"text": f"item {next(answers)}", "score": 1}))
    data = {"name": "stream", "count": 30, "generate": {"technique": "schema", "schema": {
        "type": "object", "properties": {"text": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["text", "score"]}}, "engine": {"seed": 0, "max_attempts": 60}}
    summary = asyncio.run(arun_recipe(recipe_from_dict(data, "test"), base_dir=tmp_path,
                                      output=tmp_path / "out.parquet", llm=llm))
    assert summary.accepted == 30
    with open_store(tmp_path / "out.run") as store:
        want = [r.data for r in store.iter_accepted(summary.run_id)]
    assert pq.read_table(tmp_path / "out.parquet").to_pylist() == want and len(want) == 30


def test_objects_and_lists_that_gain_fields_in_later_groups_read_back_as_one_table(tmp_path, small_groups):
    recs = [Record({"o": {"a": i}, "l": [{"a": i}] if i % 2 else []}, {}) for i in range(5)]
    recs += [Record({"o": {"b": "x"}, "l": [{"a": 1.5, "c": True}]}, {}), Record({"o": None, "l": None}, {})]
    write_records(iter(recs), tmp_path / "o.parquet")
    table = pq.read_table(tmp_path / "o.parquet")
    whole = arrow_table([r.data for r in recs])
    assert table.schema == whole.schema
    assert table.schema.field("o").type == pa.struct([("a", pa.int64()), ("b", pa.string())])
    assert table.to_pylist()[5] == {"o": {"a": None, "b": "x"}, "l": [{"a": 1.5, "c": True}]}
    assert table.to_pylist() == whole.to_pylist() and table.num_rows == 7
