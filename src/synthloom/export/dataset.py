"""`export_run`: a run's accepted records -> a fine-tuning-ready folder with splits and a card.

    export_run("out/", "openai", "ft/", split="0.8,0.1,0.1", system="You are helpful.")

writes `ft/train.jsonl`, `ft/validation.jsonl`, `ft/test.jsonl` and `ft/README.md`.
`hf` writes a `save_to_disk` DatasetDict, `parquet` the Hub's `data/<split>-*.parquet`
layout; both keep the record's fields and add a `messages` column (OpenAI chat
shape, with the system prompt) that SFT trainers read directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .card import build_card
from .chat import CHAT_FORMATS, Fields, convert, to_openai
from .splits import parse_ratios, split_rows
from ..runs import rundir
from ..runs.writers import VALUE_COLUMN, read_jsonl, write_jsonl
from ..userfiles import atomic_path, ensure_folder

EXPORT_FORMATS = (*CHAT_FORMATS, "hf", "parquet")
SAMPLES_IN_CARD = 3


@dataclass
class ExportSummary:
    out_dir: Path
    format: str
    counts: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)
    card: Path | None = None


def load_run(run_dir: str | Path, with_meta: bool = False):
    """(rows, manifest) from a run folder (its store, else its data.jsonl) or a data .jsonl file.

    With `with_meta`, (rows, metas, manifest): each row's lineage (empty when only a JSONL file is there;
    a row exported with `--with-meta` has it under `_meta`).
    """
    p = Path(run_dir)
    data_file = None
    if p.is_file():
        data_file, p = p, rundir.run_dir_of(p)
    manifest = rundir.read_manifest(p)
    if rundir.has_store(p):
        with rundir.open_store(p) as store:
            run_id = manifest.get("run_id") or store.latest_run_id()
            recs = list(store.iter_accepted(run_id))
            if run_id:
                # the store is current for what it holds; the file adds what only the run knew (output, stop,
                # generator, cost, concurrency), unless it was written for another run
                fresh = store.manifest(run_id)
                extra = {k: v for k, v in manifest.items() if k not in fresh} if manifest.get("run_id") in (None, run_id) else {}
                manifest = {**fresh, **extra}
        rows, metas = [r.data for r in recs], [r.meta for r in recs]
        return (rows, metas, manifest) if with_meta else (rows, manifest)
    data_file = data_file or (p / rundir.DATA_FILE)
    if not data_file.is_file():
        raise UsageError(f"{run_dir}: no run here (no {rundir.STORE_FILE} and no {rundir.DATA_FILE}); "
                         "give the folder you passed to -o when generating")
    raw = list(read_jsonl(data_file))
    rows = [{k: v for k, v in r.items() if k != "_meta"} if isinstance(r, dict) else r for r in raw]
    metas = [(r.get("_meta") or {}) if isinstance(r, dict) else {} for r in raw]
    return (rows, metas, manifest) if with_meta else (rows, manifest)


def _with_messages(rows: list[dict[str, Any]], system: str | None, fields: Fields | None) -> list[dict[str, Any]]:
    return [{**r, "messages": to_openai(r, system, fields)["messages"]} for r in rows]


def export_run(
    run_dir: str | Path,
    fmt: str,
    out_dir: str | Path,
    *,
    split: str | dict[str, float] = "0.8,0.1,0.1",
    system: str | None = None,
    seed: int = 0,
    stratify: str | None = None,
    near_duplicate: float = 0.7,
    fields: Fields | None = None,
) -> ExportSummary:
    from .preference import PREFERENCE_FORMATS, write_preference

    if fmt in PREFERENCE_FORMATS:  # preference pairs: dpo, dpo-chat, kto, ultrafeedback (export/preference.py)
        rows, metas, manifest = load_run(run_dir, with_meta=True)
        return ExportSummary(format=fmt, **write_preference(rows, metas, manifest, fmt, out_dir, where=run_dir,
                                                            split=split, system=system, seed=seed))
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(EXPORT_FORMATS + PREFERENCE_FORMATS)}")
    ratios = parse_ratios(split) if isinstance(split, str) else split
    rows, metas, manifest = load_run(run_dir, with_meta=True)
    if not rows:
        raise UsageError(f"{run_dir}: the run has no accepted records yet; generate some first")
    strata: Any = stratify
    if stratify and stratify.startswith("meta."):
        key = stratify[len("meta."):]
        if not any(key in m for m in metas):
            raise UsageError(f"--stratify {stratify!r}: no record's lineage has '{key}' "
                             "(e.g. meta.round or meta.operation for Evol-Instruct, meta.is_classification for Self-Instruct)")
        strata = [m.get(key) for m in metas]
    # a schema whose root is an array, a string or a union: the values in one JSON-typed column
    values = not all(isinstance(r, dict) for r in rows) or any(m.get("root") for m in metas)
    if values and fmt in CHAT_FORMATS:
        from ..records import kind_of

        kinds = "/".join(sorted({kind_of(r) for r in rows if not isinstance(r, dict)}
                                | {k for m in metas if m.get("root") for k in str(m["root"]).split("/")}))
        raise UsageError(f"--format {fmt}: chat formats need records with instruction and response fields, but this "
                         f"run's records are JSON {kinds} values (the schema's root is not an object); use --format "
                         "hf or parquet (one JSON-typed column), or generate with generate.wrap: FIELD")
    splits = {k: v for k, v in split_rows(rows, ratios, seed=seed, stratify=strata,
                                           near_duplicate=near_duplicate).items() if v}
    out = ensure_folder(out_dir, "export folder")
    files: dict[str, str] = {}
    if fmt in CHAT_FORMATS:
        for name, part in splits.items():
            files[name] = f"{name}.jsonl"
            write_jsonl(convert(part, fmt, system, fields), out / files[name])
        samples = list(convert(rows[:SAMPLES_IN_CARD], fmt, system, fields))
    else:
        from .compare import class_label_of, is_labelled_run
        from .hf import save_hf, save_parquet
        from .tool_chat import hf_row, is_tool_record

        if values:  # one JSON-typed column, no chat turns to add
            shape = (lambda part: [{VALUE_COLUMN: r} for r in part])
        elif all(is_tool_record(r) for r in rows):  # function calling: messages with tool calls, tools as JSON
            shape = (lambda part: [hf_row(r, system) for r in part])
        elif is_labelled_run(run_dir):  # labelled text (classification, augment) stays {text, label}
            shape = (lambda part: part)
        else:
            shape = (lambda part: _with_messages(part, system, fields))
        shaped = {name: shape(part) for name, part in splits.items()}
        if fmt == "hf":
            save_hf(shaped, out, class_label=class_label_of(run_dir), json_columns=(VALUE_COLUMN,) if values else ())
        else:
            files = save_parquet(shaped, out, json_columns=(VALUE_COLUMN,) if values else ())
        samples = shape(rows[:SAMPLES_IN_CARD])
    counts = {name: len(part) for name, part in splits.items()}
    card = build_card(manifest, counts, fmt, files or None, samples, system)
    with atomic_path(out / "README.md") as tmp:
        tmp.write_text(card, encoding="utf-8")
    return ExportSummary(out_dir=out, format=fmt, counts=counts, files=files, card=out / "README.md")


def export_declared(run_dir: str | Path, exp: Any) -> ExportSummary:
    """One export a recipe declares (`output.exports[i]`, an ExportSettings), written after its run."""
    return export_run(run_dir, exp.format, exp.path, split=exp.split, system=exp.system, seed=exp.seed,
                      stratify=exp.stratify)
