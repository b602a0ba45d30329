"""The user's seed files, read for samplers: rows of a .csv/.tsv/.jsonl/.json/.parquet file, and personas
one a line (sources/samplers.py draws from them)."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from ..config.samplers import PersonasSampler
from ..errors import RecipeError, require


def plain(value: Any) -> Any:
    """A JSON value: dates as ISO text, decimals as floats, tuples as lists."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def read_table(path: Path, where: str) -> list[dict[str, Any]]:
    """The rows of a .csv/.tsv/.jsonl/.json/.parquet file, as mappings."""
    if not path.is_file():
        raise RecipeError(f"{where}.path: no file {path}; give a .csv, .jsonl, .json or .parquet file "
                          "(a relative path is read from the recipe's folder)")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        elif suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        elif suffix == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".parquet":
            pq = require("pyarrow.parquet", "parquet", "seed rows from Parquet")
            rows = pq.read_table(path).to_pylist()
        else:
            raise RecipeError(f"{where}.path: {path.name} is not .csv, .tsv, .jsonl, .json or .parquet")
    except (ValueError, OSError, csv.Error) as exc:
        raise RecipeError(f"{where}.path: {path} cannot be read ({exc}); fix the file") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise RecipeError(f"{where}.path: {path} must hold rows (objects), one per line or in a list")
    if not rows:
        raise RecipeError(f"{where}.path: {path} has no rows")
    return [plain(r) for r in rows]


def read_personas(cfg: PersonasSampler, base_dir: Path, where: str) -> list[str]:
    path = (base_dir / cfg.path) if cfg.path else None
    assert path is not None
    if path.suffix.lower() in (".txt", ".md", ""):
        if not path.is_file():
            raise RecipeError(f"{where}.path: no file {path}; give a text file with one persona a line")
        found = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        rows = read_table(path, where)
        if cfg.column not in rows[0]:
            raise RecipeError(f"{where}.column: {path.name} has no column {cfg.column!r} "
                              f"(it has {', '.join(rows[0])}); set column:")
        found = [str(r.get(cfg.column) or "").strip() for r in rows]
    out = list(dict.fromkeys(p for p in found if p))
    if not out:
        raise RecipeError(f"{where}.path: {path} has no personas")
    return out
