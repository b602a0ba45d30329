"""Hugging Face `datasets` outputs: `save_to_disk` folders and the Hub's Parquet layout.

`save_hf(splits, out)` writes a `DatasetDict` with `save_to_disk`, so
`datasets.load_from_disk(out)` returns it. `save_parquet(splits, out)` writes
`out/data/<split>-00000-of-00001.parquet`, the layout the Hub uses: with the
dataset card's `configs:` block next to it, `datasets.load_dataset(out)` finds
the splits by name, and `load_dataset("parquet", data_files=...)` works too.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import require
from ..userfiles import check_folder, ensure_folder


def _check_out(out: Path) -> None:
    check_folder(out, "export folder")


def parquet_files(splits: dict[str, list]) -> dict[str, str]:
    """Split name -> file path inside the output folder (relative)."""
    return {name: f"data/{name}-00000-of-00001.parquet" for name in splits}


def save_parquet(splits: dict[str, list[dict[str, Any]]], out: str | Path,
                 json_columns: tuple[str, ...] = ()) -> dict[str, str]:
    """One Parquet file per split under out/data/; returns split -> relative path.
    `json_columns` are written JSON-typed (`datasets` reads them as `Json` features: any JSON value)."""
    require("pyarrow", "parquet", "Parquet output")
    import pyarrow.parquet as pq

    from ..runs.writers import arrow_table
    from ..userfiles import atomic_path

    out = Path(out)
    _check_out(out)
    files = parquet_files(splits)
    for name, rows in splits.items():
        table = arrow_table(rows, json_columns)
        with atomic_path(out / files[name]) as tmp:
            pq.write_table(table, tmp)
    return files


def save_hf(splits: dict[str, list[dict[str, Any]]], out: str | Path,
            class_label: tuple[str, list[str]] | None = None, json_columns: tuple[str, ...] = ()) -> Path:
    """A `datasets.DatasetDict` saved with `save_to_disk` (written beside, then moved into place).
    `class_label` = (field, names): that column becomes a `ClassLabel` (integers with names).
    `json_columns` become `datasets.Json` features (any JSON value: an array, a string, an object)."""
    datasets = require("datasets", "hf", "Hugging Face datasets output")
    from datasets.table import InMemoryTable

    from ..runs.writers import arrow_table

    out = Path(out)
    _check_out(out)
    # through our own Arrow table: a JSON-typed column stays JSON (datasets' Json), and a string value that
    # looks like JSON ("123") stays a string, which Dataset.from_list would re-read as a number
    dd = datasets.DatasetDict({name: datasets.Dataset(InMemoryTable(arrow_table(rows, json_columns))) if json_columns
                               else datasets.Dataset.from_list(rows) for name, rows in splits.items()})
    if class_label is not None and all(class_label[0] in d.column_names for d in dd.values()):
        dd = dd.cast_column(class_label[0], datasets.ClassLabel(names=class_label[1]))
    ensure_folder(out, "export folder")
    tmp = Path(tempfile.mkdtemp(prefix=".hf-", dir=out))
    try:
        dd.save_to_disk(str(tmp))
        for child in tmp.iterdir():
            target = out / child.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            child.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
