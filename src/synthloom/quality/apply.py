"""Run quality gates over records that already exist (a JSONL file), outside a generation run.

Stateless gates run first, then stateful ones, each record committed once it
passes every gate: the same order and semantics as in a run.

`gate_file` is the whole of `synthloom filter / judge / label-check`: read a JSONL
file, validate the gates' `quality:` entries, run them (with a model when a gate
needs one), write the kept records (scores under `_scores`) and, if asked, the
rejected ones with stage, reason and detail. `dedup_file` is `synthloom dedup`: the
kept lines exactly as written, and optionally the duplicate groups. Outputs are
checked before any work and written atomically, so a bad path or a crash leaves no
half file.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..records import Record, Rejection
from .base import Gate, GateContext, admit


async def aapply_gates(records: Iterable[Record], gates: Sequence[Gate], ctx: GateContext,
                       concurrency: int = 4) -> tuple[list[Record], list[Rejection]]:
    """(kept in input order, rejected). LLM gates run `concurrency` records at a time."""
    records = list(records)
    stateless = [g for g in gates if not g.stateful]
    stateful = [g for g in gates if g.stateful]
    sem = asyncio.Semaphore(concurrency)

    async def first_pass(rec: Record) -> Record | Rejection:
        async with sem:
            for g in stateless:
                out = await g.check(rec, ctx)
                if isinstance(out, Rejection):
                    return out
                rec = out
            return rec

    survivors = await asyncio.gather(*(first_pass(r) for r in records))
    kept: list[Record] = []
    rejected: list[Rejection] = []
    for item in survivors:
        if isinstance(item, Rejection):
            rejected.append(item)
            continue
        out = await admit(item, stateful, ctx)
        (rejected if isinstance(out, Rejection) else kept).append(out)
    return kept, rejected


def apply_gates(records: Iterable[Record], gates: Sequence[Gate], llm: Any = None, seed: int = 0,
                concurrency: int = 4) -> tuple[list[Record], list[Rejection]]:
    """Synchronous wrapper of `aapply_gates` (not from inside an event loop)."""
    async def go() -> tuple[list[Record], list[Rejection]]:
        ctx = GateContext(llm=llm, seed=seed)
        try:
            return await aapply_gates(records, gates, ctx, concurrency)
        finally:
            await ctx.models.aclose()  # the models gates opened for their own `model:` blocks

    return asyncio.run(go())


def read_jsonl(path: str | Path, objects_only: bool = False) -> tuple[list[str], list[dict]]:
    """(the non-blank lines as written, their values). A line that is not an object becomes {"text": value},
    or with `objects_only` an InputFileError naming the file and line."""
    from ..errors import InputFileError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    from ..userfiles import jsonl_values

    lines, rows = [], []
    raw = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for (n, value), line in zip(jsonl_values(path, "each line must be one JSON " + ("object" if objects_only else "record")),
                                raw):
        if objects_only and not isinstance(value, dict):
            raise InputFileError(f"{path}:{n}: a JSON {type(value).__name__}, not an object; "
                                 "each line must be one record")
        lines.append(line)
        rows.append(value if isinstance(value, dict) else {"text": value})
    return lines, rows


def gate_configs(entries: Sequence[Any], origin: str = "gates") -> list[Any]:
    """`quality:` entries (mappings as a recipe writes them, or config models) as config models;
    a bad entry is a RecipeError `origin: field ...` in the recipe's words."""
    from pydantic import BaseModel, TypeAdapter, ValidationError

    from ..config.messages import describe_validation_error
    from ..config.catalog import GateConfig
    from ..errors import RecipeError

    adapter = TypeAdapter(GateConfig)
    out = []
    for entry in entries:
        try:
            out.append(entry if isinstance(entry, BaseModel) else adapter.validate_python(entry))
        except ValidationError as exc:
            raise RecipeError(describe_validation_error(exc, origin, entry)) from None
    return out


@dataclass(frozen=True)
class GatedFile:
    """What `gate_file` did: rows read, records kept (with their scores), rejections, seconds, output."""

    read: int
    kept: list[Record]
    rejected: list[Rejection]
    seconds: float
    output: Path

    def reasons(self) -> dict[str, int]:
        """Rejections per reason, most frequent first."""
        counts: dict[str, int] = {}
        for r in self.rejected:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


_NO_VALUE = object()


def kept_row(rec: Record, original: Any = _NO_VALUE) -> Any:
    """A kept record as written: its data, with judge/label scores (and the judge's rationale) under `_scores`.
    `original`: the line's value when it was not an object (an array or string record): written back as it
    was, or as {"value": ..., "_scores": ...} when a gate scored it."""
    scored = rec.meta.get("scores") or rec.meta.get("judge")
    if original is not _NO_VALUE and not scored:
        return original
    row = {"value": original} if original is not _NO_VALUE else dict(rec.data)
    if rec.meta.get("scores"):
        row["_scores"] = rec.meta["scores"]
    if rec.meta.get("judge"):
        row["_scores"] = {**row.get("_scores", {}), "judge_rationale": rec.meta["judge"]["rationale"]}
    return row


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    from ..userfiles import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


async def agate_file(input: str | Path, output: str | Path, gates: Sequence[Any], *, rejected: str | Path | None = None,
                     model: Any = None, llm: Any = None, concurrency: int = 4, base_dir: str | Path | None = None,
                     origin: str = "gates") -> GatedFile:
    """Gate the records of the JSONL file `input` into `output` (and the rejections into `rejected`).

    `gates`: `quality:` entries (mappings or config models). `model`: a `model:` block (mapping or
    config) for the gates that ask a model (judge, label), built here and closed after; or hand in
    an `llm` you own. Relative files the gates name resolve from `base_dir` (default: the working folder).
    """
    from ..userfiles import check_file
    from .gates import build_gates

    configs = gate_configs(gates, origin)
    output, rejected = Path(output), Path(rejected) if rejected is not None else None
    for path in (output, rejected):  # both checked before the gates run and before either is written
        if path is not None:
            check_file(path, "output file")
    built = build_gates(configs, Path(base_dir) if base_dir is not None else Path.cwd())
    lines, rows = read_jsonl(input)
    started = time.perf_counter()
    own = llm is None and model is not None
    if own:
        from ..config.models import LlamaCppModel, OpenAIModel
        from ..llm.factory import build_llm

        cfg = model if not isinstance(model, Mapping) else (
            OpenAIModel(**model) if model.get("backend") == "openai" else LlamaCppModel(**model))
        llm = build_llm([cfg])
    records = [Record(r) for r in rows]
    # a line that is not an object (an array or string record) is gated as {"text": value}, written back as it was
    originals = {id(rec.data): value for rec, line in zip(records, lines)
                 for value in [json.loads(line)] if not isinstance(value, dict)}
    ctx = GateContext(llm=llm)
    try:
        kept, rej = await aapply_gates(records, built, ctx, concurrency)
    finally:
        await ctx.models.aclose()  # the models gates opened for their own `model:` blocks
        if own:
            await llm.aclose()
    _write_jsonl(output, (kept_row(rec, originals.get(id(rec.data), _NO_VALUE)) for rec in kept))
    if rejected is not None:
        _write_jsonl(rejected, ({"stage": r.stage, "reason": r.reason, "detail": r.detail, "data": r.data} for r in rej))
    return GatedFile(len(lines), kept, rej, time.perf_counter() - started, output)


def gate_file(input: str | Path, output: str | Path, gates: Sequence[Any], **kwargs: Any) -> GatedFile:
    """Synchronous wrapper of `agate_file` (not from inside an event loop)."""
    return asyncio.run(agate_file(input, output, gates, **kwargs))


@dataclass(frozen=True)
class DedupedFile:
    """What `dedup_file` did: lines read and kept, duplicates of a kept line, copies of a reference, seconds."""

    read: int
    kept: int
    duplicates: int
    contaminated: int
    seconds: float
    output: Path


def dedup_file(input: str | Path, output: str | Path, method: str = "exact", threshold: float | None = None, *,
               fields: Sequence[str] | None = None, reference: Sequence[str | Path] = (),
               reference_field: str | Sequence[str] | None = None, groups: str | Path | None = None,
               base_dir: str | Path | None = None, find: Any = None, **options: Any) -> DedupedFile:
    """Keep the first line of each group of duplicates in the JSONL file `input` (and drop copies of the
    `reference` files' records); `groups` also gets one line per group and per contaminated line.

    `find(texts, method, threshold, reference=..., **options)` marks the duplicates (default
    `quality.dedup.dedup_texts`; options: ngram, unit, num_perm, backend); hand in another to run elsewhere.
    """
    from ..userfiles import check_file
    from .dedup import dedup_texts, load_reference_texts
    from .text import record_text

    output, groups = Path(output), Path(groups) if groups is not None else None
    for path in (output, groups):  # both checked before either is written
        if path is not None:
            check_file(path, "output file")
    started = time.perf_counter()
    lines, rows = read_jsonl(input)
    fields = list(fields) if fields else None
    texts = [record_text(r, fields) for r in rows]
    refs = load_reference_texts([str(p) for p in reference], reference_field or fields,
                                Path(base_dir) if base_dir is not None else Path.cwd())
    marks = (find or dedup_texts)(texts, method, threshold, reference=refs, **options)
    from ..userfiles import atomic_path

    with atomic_path(output) as tmp:
        tmp.write_text("".join(line + "\n" for line, m in zip(lines, marks) if m is None), encoding="utf-8")
    if groups is not None:
        _write_jsonl(groups, _groups(marks))
    n_kept = sum(1 for m in marks if m is None)
    n_ref = sum(1 for m in marks if m and m[0] == "reference")
    return DedupedFile(len(lines), n_kept, len(lines) - n_kept - n_ref, n_ref, time.perf_counter() - started, output)


def _groups(marks: Sequence[Any]) -> list[dict[str, Any]]:
    """{kept: line, duplicates: [{line, similarity}]} per group, then {contaminated: {line, reference, similarity}}."""
    grouped: dict[int, list] = {}
    contaminated = []
    for i, m in enumerate(marks):
        if m and m[0] == "kept":
            grouped.setdefault(m[1], []).append({"line": i + 1, "similarity": round(m[2], 4)})
        elif m:
            contaminated.append({"line": i + 1, "reference": m[1] + 1, "similarity": round(m[2], 4)})
    return ([{"kept": k + 1, "duplicates": v} for k, v in sorted(grouped.items())]
            + [{"contaminated": c} for c in contaminated])
