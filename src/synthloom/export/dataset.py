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
from typing import Any, Callable, Iterator

from ..errors import UsageError
from .card import build_card
from .chat import CHAT_FORMATS, Fields, convert, to_openai
from .splits import parse_ratios
from ..runs import rundir
from ..runs.writers import VALUE_COLUMN, read_jsonl
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


class RunRecords:
    """A run's accepted records as (data, lineage) pairs, read afresh on each pass: from the run's store,
    else from its data .jsonl (lineage from `_meta` when the file has it). Nothing is kept in memory."""

    def __init__(self, run_dir: str | Path) -> None:
        p = Path(run_dir)
        data_file = None
        if p.is_file():
            data_file, p = p, rundir.run_dir_of(p)
        self.where, self.folder = run_dir, p
        manifest = rundir.read_manifest(p)
        self.run_id: str | None = None
        self.data_file: Path | None = None
        if rundir.has_store(p):
            with rundir.open_store(p) as store:
                self.run_id = manifest.get("run_id") or store.latest_run_id()
                if self.run_id:
                    # the store is current for what it holds; the file adds what only the run knew (output, stop,
                    # generator, cost, concurrency), unless it was written for another run
                    fresh = store.manifest(self.run_id)
                    extra = ({k: v for k, v in manifest.items() if k not in fresh}
                             if manifest.get("run_id") in (None, self.run_id) else {})
                    manifest = {**fresh, **extra}
        else:
            self.data_file = data_file or (p / rundir.DATA_FILE)
            if not self.data_file.is_file():
                raise UsageError(f"{run_dir}: no run here (no {rundir.STORE_FILE} and no {rundir.DATA_FILE}); "
                                 "give the folder you passed to -o when generating")
        self.manifest = manifest

    def __iter__(self) -> Iterator[tuple[Any, dict[str, Any]]]:
        if self.data_file is None:
            with rundir.open_store(self.folder) as store:
                for r in store.iter_accepted(self.run_id):
                    yield r.data, r.meta
            return
        for r in read_jsonl(self.data_file):
            if isinstance(r, dict):
                yield {k: v for k, v in r.items() if k != "_meta"}, (r.get("_meta") or {})
            else:
                yield r, {}

    def rows(self) -> Iterator[Any]:
        return (row for row, _meta in self)


def load_run(run_dir: str | Path, with_meta: bool = False):
    """(rows, manifest) from a run folder (its store, else its data.jsonl) or a data .jsonl file, as lists.

    With `with_meta`, (rows, metas, manifest): each row's lineage (empty when only a JSONL file is there;
    a row exported with `--with-meta` has it under `_meta`). A run of any size streams: `RunRecords`.
    """
    src = RunRecords(run_dir)
    pairs = list(src)
    rows, metas = [r for r, _m in pairs], [m for _r, m in pairs]
    return (rows, metas, src.manifest) if with_meta else (rows, src.manifest)


def _with_messages(row: dict[str, Any], system: str | None, fields: Fields | None) -> dict[str, Any]:
    return {**row, "messages": to_openai(row, system, fields)["messages"]}


@dataclass
class _Facts:
    """What the first pass learns of a run's records before any file is written."""

    count: int = 0
    all_objects: bool = True
    any_root: bool = False
    all_tools: bool = True
    kinds: set[str] = field(default_factory=set)
    stratum_seen: bool = False
    first: list[Any] = field(default_factory=list)
    first_fields: list[str] = field(default_factory=list)


def _plan(src: RunRecords, plan: Any, stratify: str | None) -> _Facts:
    """Feed every record's prompt text and stratum to the split plan, noting the facts export_run checks."""
    from ..records import kind_of
    from .splits import default_text
    from .tool_chat import is_tool_record

    facts = _Facts()
    key = stratify[len("meta."):] if stratify and stratify.startswith("meta.") else None
    for row, meta in src:
        facts.count += 1
        if len(facts.first) < SAMPLES_IN_CARD:
            facts.first.append(row)
        is_obj = isinstance(row, dict)
        if facts.count == 1 and is_obj:
            facts.first_fields = sorted(row)
        if not is_obj:
            facts.all_objects = False
            facts.kinds.add(kind_of(row))
        if meta.get("root"):
            facts.any_root = True
            facts.kinds.update(str(meta["root"]).split("/"))
        if facts.all_tools and not is_tool_record(row):
            facts.all_tools = False
        stratum = None
        if key is not None:
            facts.stratum_seen |= key in meta
            stratum = meta.get(key)
        elif stratify:
            facts.stratum_seen |= is_obj and stratify in row
            stratum = row.get(stratify) if is_obj else None
        plan.add(default_text(row), stratum)
    return facts


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
    """Write the run's records in `fmt`, one file per split, and a card. Two passes over the records (the
    first plans the splits, the second converts and writes each record): memory stays flat at any size."""
    from .preference import PREFERENCE_FORMATS, write_preference
    from .splits import SplitPlan, write_split_jsonl

    if fmt in PREFERENCE_FORMATS:  # preference pairs: dpo, dpo-chat, kto, ultrafeedback (export/preference.py)
        pairs = RunRecords(run_dir)
        return ExportSummary(format=fmt, **write_preference(pairs, pairs.manifest, fmt, out_dir, where=run_dir,
                                                            split=split, system=system, seed=seed))
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(EXPORT_FORMATS + PREFERENCE_FORMATS)}")
    ratios = parse_ratios(split) if isinstance(split, str) else split
    src = RunRecords(run_dir)
    with SplitPlan(ratios, seed, near_duplicate) as plan:
        facts = _plan(src, plan, stratify)
        if not facts.count:
            raise UsageError(f"{run_dir}: the run has no accepted records yet; generate some first")
        if stratify and stratify.startswith("meta.") and not facts.stratum_seen:
            raise UsageError(f"--stratify {stratify!r}: no record's lineage has '{stratify[len('meta.'):]}' "
                             "(e.g. meta.round or meta.operation for Evol-Instruct, meta.is_classification for Self-Instruct)")
        if stratify and not stratify.startswith("meta.") and not facts.stratum_seen:
            raise UsageError(f"--stratify {stratify!r}: no record has this field (fields: {', '.join(facts.first_fields)})")
        # a schema whose root is an array, a string or a union: the values in one JSON-typed column
        values = not facts.all_objects or facts.any_root
        if values and fmt in CHAT_FORMATS:
            raise UsageError(f"--format {fmt}: chat formats need records with instruction and response fields, but "
                             f"this run's records are JSON {'/'.join(sorted(facts.kinds))} values (the schema's root is "
                             "not an object); use --format hf or parquet (one JSON-typed column), or generate with "
                             "generate.wrap: FIELD")
        counts = {k: v for k, v in plan.deal().items() if v}
        out = ensure_folder(out_dir, "export folder")
        if fmt in CHAT_FORMATS:
            files = {name: f"{name}.jsonl" for name in counts}
            write_split_jsonl(out, files, ((name, convert([row], fmt, system, fields))
                                            for name, row in zip(plan.splits(), src.rows())))
            samples = list(convert(facts.first, fmt, system, fields))
        else:
            from .compare import class_label_of, is_labelled_run
            from .hf import save_hf, save_parquet
            from .tool_chat import hf_row

            if values:  # one JSON-typed column, no chat turns to add
                shape: Any = lambda r: {VALUE_COLUMN: r}
            elif facts.all_tools:  # function calling: messages with tool calls, tools as JSON
                shape = lambda r: hf_row(r, system)
            elif is_labelled_run(run_dir):  # labelled text (classification, augment) stays {text, label}
                shape = lambda r: r
            else:
                shape = lambda r: _with_messages(r, system, fields)

            def part(name: str) -> Callable[[], Iterator[dict[str, Any]]]:  # one pass over the run per split
                return lambda: (shape(row) for s, row in zip(plan.splits(), src.rows()) if s == name)

            json_columns = (VALUE_COLUMN,) if values else ()
            files = {}
            if fmt == "hf":
                save_hf({name: part(name) for name in counts}, out, class_label=class_label_of(run_dir),
                        json_columns=json_columns)
            else:
                files = save_parquet({name: part(name) for name in counts}, out, json_columns=json_columns)
            samples = [shape(r) for r in facts.first]
    card = build_card(src.manifest, counts, fmt, files or None, samples, system)
    with atomic_path(out / "README.md") as tmp:
        tmp.write_text(card, encoding="utf-8")
    return ExportSummary(out_dir=out, format=fmt, counts=counts, files=files, card=out / "README.md")


def export_declared(run_dir: str | Path, exp: Any) -> ExportSummary:
    """One export a recipe declares (`output.exports[i]`, an ExportSettings), written after its run."""
    return export_run(run_dir, exp.format, exp.path, split=exp.split, system=exp.system, seed=exp.seed,
                      stratify=exp.stratify)
