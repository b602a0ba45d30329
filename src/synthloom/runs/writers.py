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
    gives back the values, pandas and DuckDB read JSON text. Columns: every row's fields, in first-seen order."""
    pa = require("pyarrow", "parquet", "Parquet output")
    from .table_stream import Plan, arrow_group

    if not rows:
        return pa.table({})
    plan = Plan(json=frozenset(json_columns))
    if not all(isinstance(r, dict) for r in rows):
        rows, plan = [{VALUE_COLUMN: r} for r in rows], Plan(as_value=True, json=frozenset({VALUE_COLUMN}))
    plan, table = arrow_group(rows, plan)
    return table if table is not None else arrow_group(rows, plan)[1]


def write_jsonl(rows: Iterable[Any], path: Path) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for row in rows:
            f.write(dumps(row))
            f.write(b"\n")
            n += 1
    return n


def _wrap(row: Any, as_value: bool) -> Any:
    return {VALUE_COLUMN: row} if as_value else row


def write_parquet(rows: Iterable[Any], path: Path, json_columns: tuple[str, ...] = ()) -> int:
    """Rows (dicts, or any JSON values: then one JSON-typed column) to a Parquet file, a row group at a
    time (runs/table_stream.py): memory holds one group however many rows there are."""
    require("pyarrow", "parquet", "Parquet output")
    from .table_stream import write_table_stream

    return write_table_stream(rows, path, "parquet", needs_value=lambda r: not isinstance(r, dict), row=_wrap,
                              json_columns=json_columns, value_column=VALUE_COLUMN)


def write_csv(rows: Iterable[Any], path: Path, json_columns: tuple[str, ...] = ()) -> int:
    """One row per record, a column per field (first-seen order); lists and objects as JSON.
    Records that are not objects: one column, VALUE_COLUMN, every value as JSON (a string record quoted).
    Written row by row (runs/table_stream.py)."""
    from .table_stream import write_table_stream

    return write_table_stream(rows, path, "csv", needs_value=lambda r: not isinstance(r, dict), row=_wrap,
                              json_columns=json_columns, value_column=VALUE_COLUMN)


def format_for(path: Path, fmt: str | None) -> str:
    fmt = fmt or {".parquet": "parquet", ".csv": "csv"}.get(path.suffix, "jsonl")
    if fmt not in FORMATS:
        raise UsageError(f"output format '{fmt}' is not supported: use one of {', '.join(FORMATS)}")
    return fmt


def write_records(records: Iterable[Record], path: Path, fmt: str | None = None, with_meta: bool = False) -> int:
    """JSONL: one record's data per line, whatever its JSON type. Parquet and CSV: a column per field, or,
    when the records are not all objects or their schema's root may be something else (lineage `root`,
    e.g. `boolean/object`), their values in one column (VALUE_COLUMN, JSON-typed in Parquet).
    Every format is written as a stream: a run of any size in the memory of one row group."""
    fmt = format_for(path, fmt)
    if fmt == "jsonl":
        return write_jsonl((row_of(r, with_meta) for r in records), path)
    if fmt == "parquet":
        require("pyarrow", "parquet", "Parquet output")
    from .table_stream import write_table_stream

    return write_table_stream(records, path, fmt,
                              needs_value=lambda r: not isinstance(r.data, dict) or bool(r.meta.get("root")),
                              row=lambda r, as_value: row_of(r, with_meta, as_value),
                              encode=lambda r: [r.data, r.meta], decode=lambda x: Record(data=x[0], meta=x[1]),
                              value_column=VALUE_COLUMN)


def rejection_row(r: Rejection) -> dict[str, Any]:
    return {"stage": r.stage, "reason": r.reason, "detail": r.detail, "data": r.data, "raw": r.raw, "_meta": r.meta}


def read_jsonl(path: Path) -> Iterator[Any]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)
