"""The files a run writes: its records as JSONL, Parquet or CSV, its rejections as JSONL.

Each file is written atomically (`userfiles.atomic_path`): a temporary file beside the target,
renamed at the end, so a crash never leaves half a data file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from ..errors import UsageError, require
from ..records import Record, Rejection, dumps
from ..userfiles import atomic_path

FORMATS = ("jsonl", "parquet", "csv")


# The one column that holds records which are not objects (a schema whose root is an array, a string or a
# union) in Parquet, CSV and Hugging Face outputs, and beside `_meta` in a JSONL line with lineage.
VALUE_COLUMN = "value"


def row_of(rec: Record, with_meta: bool, as_value: bool = False) -> Any:
    """A record as one output row: its data (any JSON value in JSONL); `as_value` puts it in VALUE_COLUMN."""
    if as_value or (with_meta and not isinstance(rec.data, dict)):
        return {VALUE_COLUMN: rec.data, **({"_meta": rec.meta} if with_meta else {})}
    return {**rec.data, "_meta": rec.meta} if with_meta else rec.data


def arrow_table(rows: list[Any], json_columns: tuple[str, ...] = ()):
    """A pyarrow table of rows. Rows that are not all objects become one JSON-typed column (VALUE_COLUMN);
    a column Arrow cannot type (mixed types across records) is JSON-typed too, instead of failing the write.
    A JSON-typed column is Arrow's `arrow.json` extension type: `datasets` reads it as a `Json` feature and
    gives back the values, pandas and DuckDB read JSON text."""
    pa = require("pyarrow", "parquet", "Parquet output")
    if not rows:
        return pa.table({})
    if not all(isinstance(r, dict) for r in rows):
        rows, json_columns = [{VALUE_COLUMN: r} for r in rows], (VALUE_COLUMN,)
    if not json_columns:
        try:
            return pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            pass  # typed column by column below
    arrays = {}
    for name in dict.fromkeys(k for r in rows for k in r):
        values = [r.get(name) for r in rows]
        if name not in json_columns:
            try:
                arrays[name] = pa.array(values)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
                pass
        arrays[name] = pa.array([None if v is None else dumps(v).decode() for v in values], type=pa.json_())
    return pa.table(arrays)


def write_jsonl(rows: Iterable[Any], path: Path) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for row in rows:
            f.write(dumps(row))
            f.write(b"\n")
            n += 1
    return n


def write_parquet(rows: Iterable[Any], path: Path, json_columns: tuple[str, ...] = ()) -> int:
    require("pyarrow", "parquet", "Parquet output")
    import pyarrow.parquet as pq

    rows = list(rows)
    table = arrow_table(rows, json_columns)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(rows)


def write_csv(rows: Iterable[Any], path: Path, json_columns: tuple[str, ...] = ()) -> int:
    """One row per record, a column per field (the first record's order); lists and objects as JSON.
    Records that are not objects: one column, VALUE_COLUMN, every value as JSON (a string record quoted)."""
    import csv

    rows = list(rows)
    if not all(isinstance(r, dict) for r in rows):
        rows, json_columns = [{VALUE_COLUMN: r} for r in rows], (VALUE_COLUMN,)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if v is None else v if isinstance(v, str) and c not in json_columns else dumps(v).decode()
                        for c, v in ((c, r.get(c)) for c in columns)])
    return len(rows)


def format_for(path: Path, fmt: str | None) -> str:
    fmt = fmt or {".parquet": "parquet", ".csv": "csv"}.get(path.suffix, "jsonl")
    if fmt not in FORMATS:
        raise UsageError(f"output format '{fmt}' is not supported: use one of {', '.join(FORMATS)}")
    return fmt


def write_records(records: Iterable[Record], path: Path, fmt: str | None = None, with_meta: bool = False) -> int:
    """JSONL: one record's data per line, whatever its JSON type. Parquet and CSV: a column per field, or,
    when the records are not all objects or their schema's root may be something else (lineage `root`,
    e.g. `boolean/object`), their values in one column (VALUE_COLUMN, JSON-typed in Parquet)."""
    fmt = format_for(path, fmt)
    if fmt == "jsonl":
        return write_jsonl((row_of(r, with_meta) for r in records), path)
    records = list(records)
    as_value = any(not isinstance(r.data, dict) or r.meta.get("root") for r in records)
    rows = [row_of(r, with_meta, as_value) for r in records]
    json_columns = (VALUE_COLUMN,) if as_value else ()
    return (write_parquet if fmt == "parquet" else write_csv)(rows, path, json_columns)


def rejection_row(r: Rejection) -> dict[str, Any]:
    return {"stage": r.stage, "reason": r.reason, "detail": r.detail, "data": r.data, "raw": r.raw, "_meta": r.meta}


def read_jsonl(path: Path) -> Iterator[Any]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)
