"""A run directory: where a run's files live and how to open them.

    RUN_DIR/store.sqlite    the run store (calls, records, rejections, usage, verdicts)
    RUN_DIR/manifest.json   the finished run's summary (the store's manifest plus output, cost, stop)
    RUN_DIR/data.jsonl      the accepted records, when the output was a folder

This module is the only one that knows these names: everything else opens a run with
`open_store(run_dir)` and asks `has_store` / `store_path` instead of joining paths.
An output given as a file (`-o x.jsonl`) gets its run directory beside it (`x.run/`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..errors import InputFileError
from ..userfiles import atomic_path
from .store import RunStore

STORE_FILE = "store.sqlite"
MANIFEST_FILE = "manifest.json"
DATA_FILE = "data.jsonl"
DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
FINISHED_RUN = "the run directory of a finished run (for `-o x.jsonl` it is `x.run/`)"


def run_dir_of(data_file: str | Path) -> Path:
    """The run directory beside a data file: `x.jsonl` -> `x.run/`."""
    p = Path(data_file)
    return p.with_name(p.stem + ".run")


def resolve_output(path: str | Path | None, recipe_name: str) -> tuple[Path, Path]:
    """(data file, run dir). A file path gets a run dir beside it (`x.jsonl` -> `x.run/`);
    a folder gets `data.jsonl` inside it and is the run dir itself."""
    p = Path(path) if path else Path("out") / recipe_name
    if p.suffix in DATA_SUFFIXES and not p.is_dir():
        return p, run_dir_of(p)
    return p / DATA_FILE, p


def store_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / STORE_FILE


def has_store(run_dir: str | Path) -> bool:
    return store_path(run_dir).is_file()


def open_store(run_dir: str | Path, give: str = FINISHED_RUN) -> RunStore:
    """The store of an existing run; a folder without one is one InputFileError saying what to `give` instead."""
    if not has_store(run_dir):
        raise InputFileError(f"{run_dir}: no run store (no {STORE_FILE} here); give {give}")
    return RunStore(store_path(run_dir))


def create_store(run_dir: str | Path) -> RunStore:
    """The store of a run about to be written (made when it is not there yet)."""
    return RunStore(store_path(run_dir))


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The run's manifest.json, or {} when the run has none (yet)."""
    path = Path(run_dir) / MANIFEST_FILE
    return orjson.loads(path.read_bytes()) if path.is_file() else {}


def write_manifest(run_dir: str | Path, manifest: dict[str, Any]) -> Path:
    path = Path(run_dir) / MANIFEST_FILE
    with atomic_path(path) as tmp:
        tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return path
