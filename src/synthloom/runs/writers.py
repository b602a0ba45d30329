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


def row_of(rec: Record, with_meta: bool) -> dict[str, Any]:
    return {**rec.data, "_meta": rec.meta} if with_meta else rec.data


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for row in rows:
            f.write(dumps(row))
            f.write(b"\n")
            n += 1
    return n


def write_parquet(rows: Iterable[dict[str, Any]], path: Path) -> int:
    pa = require("pyarrow", "parquet", "Parquet output")
    import pyarrow.parquet as pq

    rows = list(rows)
    table = pa.Table.from_pylist(rows) if rows else pa.table({})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(rows)


def write_csv(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """One row per record, a column per field (the first record's order); lists and objects as JSON."""
    import csv

    rows = list(rows)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([v if isinstance(v, str) else "" if v is None else dumps(v).decode()
                        for v in (r.get(c) for c in columns)])
    return len(rows)


def format_for(path: Path, fmt: str | None) -> str:
    fmt = fmt or {".parquet": "parquet", ".csv": "csv"}.get(path.suffix, "jsonl")
    if fmt not in FORMATS:
        raise UsageError(f"output format '{fmt}' is not supported: use one of {', '.join(FORMATS)}")
    return fmt


def write_records(records: Iterable[Record], path: Path, fmt: str | None = None, with_meta: bool = False) -> int:
    rows = (row_of(r, with_meta) for r in records)
    return {"parquet": write_parquet, "csv": write_csv}.get(format_for(path, fmt), write_jsonl)(rows, path)


def rejection_row(r: Rejection) -> dict[str, Any]:
    return {"stage": r.stage, "reason": r.reason, "detail": r.detail, "data": r.data, "raw": r.raw, "_meta": r.meta}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)
