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
from contextlib import ExitStack
from typing import Any, Callable, Iterable, Union

from ..errors import require
from ..userfiles import check_folder, ensure_folder


def _check_out(out: Path) -> None:
    check_folder(out, "export folder")


def parquet_files(splits: dict[str, Any]) -> dict[str, str]:
    """Split name -> file path inside the output folder (relative)."""
    return {name: f"data/{name}-00000-of-00001.parquet" for name in splits}


Rows = Union[Iterable[Any], Callable[[], Iterable[Any]]]


def _rows(part: Rows) -> Iterable[Any]:
    """A split's rows: a list, or a function that streams them (read once)."""
    return part() if callable(part) else part


def save_parquet(splits: dict[str, Rows], out: str | Path, json_columns: tuple[str, ...] = ()) -> dict[str, str]:
    """One Parquet file per split under out/data/, each written a row group at a time (runs/table_stream.py);
    every file appears at the end, or none does. Returns split -> relative path.
    `json_columns` are written JSON-typed (`datasets` reads them as `Json` features: any JSON value)."""
    require("pyarrow", "parquet", "Parquet output")
    from ..runs.writers import write_parquet
    from ..userfiles import atomic_path

    out = Path(out)
    _check_out(out)
    files = parquet_files(splits)
    with ExitStack() as stack:
        for name, part in splits.items():
            write_parquet(_rows(part), stack.enter_context(atomic_path(out / files[name])), json_columns)
    return files


def _arrow_file(parquet: Path, target: Path) -> None:
    """A Parquet file as an Arrow stream file (what `Dataset.from_file` memory-maps), 1,000 rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(parquet)
    with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_stream(sink, pf.schema_arrow) as writer:
        for batch in pf.iter_batches(batch_size=1000):
            writer.write_batch(batch)


def save_hf(splits: dict[str, Rows], out: str | Path, class_label: tuple[str, list[str]] | None = None,
            json_columns: tuple[str, ...] = ()) -> Path:
    """A `datasets.DatasetDict` saved with `save_to_disk` (written beside, then moved into place).
    Each split is written as a stream (Parquet row groups, then an Arrow file that `datasets` memory-maps),
    so a run of any size needs the memory of one row group.
    `class_label` = (field, names): that column becomes a `ClassLabel` (integers with names).
    `json_columns` become `datasets.Json` features (any JSON value: an array, a string, an object)."""
    datasets = require("datasets", "hf", "Hugging Face datasets output")
    from ..runs.writers import write_parquet

    out = Path(out)
    _check_out(out)
    ensure_folder(out, "export folder")
    tmp = Path(tempfile.mkdtemp(prefix=".hf-", dir=out))
    bars_were_off = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # the export prints its own one-line summary
    try:
        # through our own Arrow tables: a JSON-typed column stays JSON (datasets' Json), and a string value that
        # looks like JSON ("123") stays a string
        parts = {}
        for name, part in splits.items():
            write_parquet(_rows(part), tmp / f"{name}.parquet", json_columns)
            _arrow_file(tmp / f"{name}.parquet", tmp / f"{name}.arrow")
            (tmp / f"{name}.parquet").unlink()
            parts[name] = datasets.Dataset.from_file(str(tmp / f"{name}.arrow"))
        dd = datasets.DatasetDict(parts)
        if class_label is not None and all(class_label[0] in d.column_names for d in dd.values()):
            dd = dd.cast_column(class_label[0], datasets.ClassLabel(names=class_label[1]))
        dd.save_to_disk(str(tmp / "dataset"))
        del dd, parts
        for child in (tmp / "dataset").iterdir():
            target = out / child.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            child.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not bars_were_off:
            datasets.enable_progress_bars()
    return out
