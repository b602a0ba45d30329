"""Parquet and CSV files written as a stream: a run of any size in the memory of one row group.

A table file needs its columns (and, for Parquet, their types) before its first row, but a run's
records arrive one by one from the store. So the writer takes a plan from the first group of rows
(the columns in the order they first appear, each column's Arrow type, which columns hold JSON text,
whether the records go into one JSON-typed value column) and writes group by group. A later group
that does not fit the plan (a new field, an integer column that turns out to hold floats, a field of
mixed types, a record that is not an object) widens it, and the file starts over from a spool of the
items read so far. Plans only widen, so that happens a few times at most, and a run whose records
share one schema writes its file once. The rows equal those of one table built from all the items
at once: a column's type is what Arrow infers for all its values, and a column Arrow cannot type is
JSON text (`writers.arrow_table`).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import require
from ..records import dumps, loads

ROWS_PER_GROUP = 10_000  # rows in memory at once, and a Parquet file's row group
_JSON = "json"  # a column's type in a plan when it holds JSON text


@dataclass(frozen=True)
class Plan:
    as_value: bool = False  # every item in one JSON-typed column (writers.VALUE_COLUMN)
    columns: dict[str, Any] = field(default_factory=dict)  # name -> Arrow type, _JSON, or None (CSV)
    json: frozenset[str] = frozenset()  # columns written as JSON text whatever their values

    def new_column(self, name: str, empty: Any) -> Any:
        return _JSON if name in self.json else empty


class _Widen(Exception):
    def __init__(self, plan: Plan) -> None:
        self.plan = plan


class _Spool:
    """The items read so far, in a temporary file, so a widened plan can start over from the first.
    A list needs no spool: it is read again."""

    def __init__(self, items: Iterable[Any], encode: Callable[[Any], bytes], decode: Callable[[Any], Any]) -> None:
        self.items = items if isinstance(items, (list, tuple)) else None
        self.rest = None if self.items is not None else iter(items)
        self.encode, self.decode = encode, decode
        self.file: Any = None
        self.end = 0

    def __iter__(self) -> Iterator[Any]:
        if self.items is not None:
            yield from self.items
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="synthloom-spool-")
        f = self.file
        f.seek(0)
        pos = 0
        while pos < self.end:
            line = f.readline()
            pos += len(line)
            yield self.decode(loads(line))
        for item in self.rest:
            f.seek(self.end)
            f.write(dumps(self.encode(item)) + b"\n")
            self.end = f.tell()
            yield item

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def groups(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _infer(values: list[Any]) -> Any:
    """Arrow's own array of `values`, or None when Arrow cannot type them as one column."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return None


def _unify(a: Any, b: Any) -> Any:
    """The type that holds both (int64 + double -> double, null + string -> string), or _JSON."""
    import pyarrow as pa

    if a == b:
        return a
    try:
        return pa.unify_schemas([pa.schema([pa.field("c", a)]), pa.schema([pa.field("c", b)])],
                                promote_options="permissive").field("c").type
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _JSON


def json_array(values: list[Any]) -> Any:
    import pyarrow as pa

    return pa.array([None if v is None else dumps(v).decode() for v in values], type=pa.json_())


def arrow_group(rows: list[dict[str, Any]], plan: Plan) -> tuple[Plan, Any]:
    """(the plan widened to fit `rows`, their Arrow table under it, or None when the plan had to widen)."""
    import pyarrow as pa

    columns, arrays, wider = dict(plan.columns), [], False
    for name in dict.fromkeys(k for r in rows for k in r):
        if name not in columns:
            columns[name], wider = plan.new_column(name, pa.null()), True
    for name, typ in list(columns.items()):
        values = [r.get(name) for r in rows]
        if typ == _JSON:
            arrays.append(json_array(values))
            continue
        arr = _infer(values)
        new = _JSON if arr is None else _unify(typ, arr.type)
        if new != typ:
            columns[name], wider = new, True
        elif not wider:
            arrays.append(arr if arr.type == typ else arr.cast(typ))
    plan = replace(plan, columns=columns)
    if wider:
        return plan, None
    return plan, pa.Table.from_arrays(arrays, schema=arrow_schema(plan))


def arrow_schema(plan: Plan) -> Any:
    import pyarrow as pa

    return pa.schema([pa.field(n, pa.json_() if t == _JSON else t) for n, t in plan.columns.items()])


def write_table_stream(items: Iterable[Any], path: Path, fmt: str, *, needs_value: Callable[[Any], bool],
                       row: Callable[[Any, bool], Any], json_columns: tuple[str, ...] = (),
                       encode: Callable[[Any], Any] = lambda x: x, decode: Callable[[Any], Any] = lambda x: x,
                       value_column: str = "value") -> int:
    """Write `items` to a Parquet or CSV file at `path`, group by group; returns the number of rows.

    needs_value(item): True when the items must go into one JSON-typed column; row(item, as_value): the
    item as an output row (a dict). encode/decode turn an item into JSON and back for the spool."""
    from ..userfiles import atomic_path

    plan = Plan(json=frozenset(json_columns))
    spool = _Spool(items, encode, decode)
    try:
        while True:
            try:
                with atomic_path(path) as tmp:
                    return _one_pass(spool, tmp, fmt, plan, needs_value, row, value_column)
            except _Widen as w:
                plan = w.plan
    finally:
        spool.close()


def _one_pass(items: Iterable[Any], tmp: Path, fmt: str, plan: Plan, needs_value: Callable[[Any], bool],
              row: Callable[[Any, bool], Any], value_column: str) -> int:
    n, writer = 0, None
    try:
        for group in groups(items, ROWS_PER_GROUP):
            if not plan.as_value and any(needs_value(x) for x in group):
                plan = Plan(as_value=True, json=frozenset({value_column}))
                if n:
                    raise _Widen(plan)
            rows = [row(x, plan.as_value) for x in group]
            if fmt == "csv":
                wider = replace(plan, columns={**plan.columns, **{k: plan.new_column(k, None) for r in rows for k in r
                                                                   if k not in plan.columns}})
                if wider != plan and n:
                    raise _Widen(wider)
                plan = wider
                if writer is None:
                    writer = _CsvWriter(tmp, plan)
                writer.write(rows)
            else:
                wider, table = arrow_group(rows, plan)
                if table is None:
                    if n:
                        raise _Widen(wider)
                    wider, table = arrow_group(rows, wider)  # the first group sets the plan: no start over
                plan = wider
                if writer is None:
                    writer = _parquet_writer(tmp, arrow_schema(plan))
                writer.write_table(table)
            n += len(group)
        if writer is None:  # no rows: an empty file of the format, as a table built from nothing
            if fmt == "csv":
                _CsvWriter(tmp, plan).close()
            else:
                _parquet_writer(tmp, arrow_schema(plan)).close()
        return n
    finally:
        if writer is not None:
            writer.close()


def _parquet_writer(tmp: Path, schema: Any) -> Any:
    require("pyarrow", "parquet", "Parquet output")
    import pyarrow.parquet as pq

    return pq.ParquetWriter(tmp, schema)


class _CsvWriter:
    """One row per record, a column per field (first-seen order); lists, objects and JSON columns as JSON."""

    def __init__(self, tmp: Path, plan: Plan) -> None:
        import csv

        self.f = open(tmp, "w", encoding="utf-8", newline="")
        self.columns = list(plan.columns)
        self.json = {c for c, t in plan.columns.items() if t == _JSON}
        self.w = csv.writer(self.f)
        self.w.writerow(self.columns)

    def write(self, rows: list[dict[str, Any]]) -> None:
        cols, js = self.columns, self.json
        self.w.writerows(["" if v is None else v if isinstance(v, str) and c not in js else dumps(v).decode()
                          for c, v in ((c, r.get(c)) for c in cols)] for r in rows)

    def close(self) -> None:
        self.f.close()
