"""Reading what a student learns from and is scored on: JSONL or CSV files, run folders, chat exports."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputFileError, UsageError
from ..runs import has_store

TEXT_FIELDS = ("text", "sentence", "utterance", "query", "input", "document", "body")
LABEL_FIELDS = ("label", "intent", "category", "class", "target")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a .jsonl/.json-lines or .csv file (CSV cells stay strings); a bad line names its number."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such file")
    rows: list[dict[str, Any]] = []
    if p.suffix.lower() in (".csv", ".tsv"):
        with p.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if p.suffix.lower() == ".tsv" else ",")
            if not reader.fieldnames:
                raise InputFileError(f"{p}: empty CSV file (the first line must name the columns)")
            rows = [dict(r) for r in reader]
        return rows
    from ..userfiles import jsonl_values

    for n, value in jsonl_values(p, "each line must be one JSON record (or give a .csv file with a header line)"):
        if not isinstance(value, dict):
            raise InputFileError(f"{p}:{n}: a JSON object is needed on each line, got {type(value).__name__}")
        rows.append(value)
    return rows


def load_data(source: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any], Path]:
    """(rows, manifest, file or folder) from a run folder, a data file, or an export folder's train.jsonl."""
    p = Path(source)
    if p.is_dir() and not has_store(p) and (p / "train.jsonl").is_file():
        return read_rows(p / "train.jsonl"), {}, p / "train.jsonl"
    if p.is_dir():
        from ..export.dataset import load_run

        rows, manifest = load_run(p)
        return rows, manifest, p
    return read_rows(p), {}, p


def pick_field(rows: Sequence[dict[str, Any]], name: str | None, usual: Sequence[str], what: str, flag: str,
               where: str | Path) -> str:
    """The field named, else the first usual name the rows have; one clear error when there is none."""
    have = sorted({k for r in rows[:50] for k in r})
    if name:
        if not any(name in r for r in rows):
            raise UsageError(f"{where}: no record has the {what} field {name!r} (fields: {', '.join(have)}); "
                             f"name it with {flag}")
        return name
    for cand in usual:
        if rows and all(cand in r for r in rows[:50]):
            return cand
    raise UsageError(f"{where}: no {what} field found (fields: {', '.join(have)}); name it with {flag}")


def labelled(rows: Sequence[dict[str, Any]], text_field: str, label_field: str,
             where: str | Path) -> tuple[list[str], list[str]]:
    """(texts, labels); a row without a text or a label is an error naming its line."""
    texts, labels = [], []
    for i, r in enumerate(rows, 1):
        t, lab = r.get(text_field), r.get(label_field)
        if not isinstance(t, str) or not t.strip():
            raise UsageError(f"{where}: record {i} has no text in {text_field!r} (got {t!r}); "
                             "every record needs a non-empty text")
        if lab is None or (isinstance(lab, (dict, list))) or str(lab).strip() == "":
            raise UsageError(f"{where}: record {i} has no usable label in {label_field!r} (got {lab!r}); "
                             "a label is a string or a number")
        texts.append(t)
        labels.append(str(lab).strip())
    return texts, labels
