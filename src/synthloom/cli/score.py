"""`synthloom score`: add quality-signal scores to every row of a JSONL file (no row is dropped)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer

from .common import console, out
from .options import command


@command
def score_cmd(
    input: Path = typer.Argument(..., help="JSONL file of records (any fields)."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file: every input row, in order, with _scores added."),
    signals: str = typer.Option("relevance,fluency,completeness,form", "--signals",
                                help="Comma-separated: relevance, fluency, completeness, form."),
    instruction_field: Optional[str] = typer.Option(None, "--instruction-field", help="Field holding the instruction (default: instruction/prompt/question/query)."),
    response_field: Optional[str] = typer.Option(None, "--response-field", help="Field holding the response (default: output/response/answer/completion)."),
    input_field: Optional[str] = typer.Option(None, "--input-field", help="Field joined to the instruction (default: input/context; '' for none)."),
    reference: Optional[List[Path]] = typer.Option(None, "--reference", help="relevance: JSONL file(s) of instruction/response pairs that join the calibration pool (repeatable; helps a small file)."),
    gguf: Optional[str] = typer.Option(None, "--gguf", help="fluency: a GGUF file to score with (default: the bundled Gemma 3 270M)."),
    fluency_every: int = typer.Option(1, "--fluency-every", min=1, help="fluency: the perplexity from every K-th token only "
                                      "(K times fewer 262k-way output rows: faster, an estimate; default 1: every token)."),
) -> None:
    """Score each row: relevance (calibrated MiniLM similarity), fluency (perplexity), completeness, instruction form."""
    from rich.table import Table

    from ..errors import UsageError
    from ..userfiles import atomic_path
    from ..quality.apply import read_jsonl
    from ..quality.pairs import PairFields
    from ..quality.score import parse_signals, score_rows, summarize

    names = parse_signals(signals)
    rows = read_jsonl(input, objects_only=True)[1]
    started = time.perf_counter()
    pair = PairFields(instruction_field, response_field, input_field)
    refs = []
    if reference and "relevance" in names:
        from ..quality.relevance import load_reference_instructions

        refs = load_reference_instructions([str(p) for p in reference], Path.cwd(), pair)
    try:
        scores = score_rows(rows, names, pair, fluency_model=gguf, reference=refs, fluency_every=fluency_every)
    except UsageError as exc:
        raise UsageError(f"{input}: {exc}") from None
    with atomic_path(output) as tmp:
        with tmp.open("w", encoding="utf-8") as fh:
            for row, s in zip(rows, scores):
                merged = {**row, "_scores": {**(row.get("_scores") or {}), **s}}
                fh.write(json.dumps(merged, ensure_ascii=False) + "\n")
    took = time.perf_counter() - started
    t = Table("score", "rows", "p10", "median", "p90", "past the default threshold", header_style="bold")
    for key, n, p10, med, p90, bad in summarize(scores):
        t.add_row(key, str(n), f"{p10:.3g}", f"{med:.3g}", f"{p90:.3g}", bad)
    console.print(t)
    out.print(f"scored {len(rows)} row{'' if len(rows) == 1 else 's'} ({', '.join(names)}) in {took:.1f}s -> {output}", highlight=False)
