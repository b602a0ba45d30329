"""`synthloom decontaminate`: drop the records of a JSONL file that repeat, contain or paraphrase a benchmark item."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import console, flag_names, out
from .options import command, csv_list

_FLAGS = {"ngram_threshold": "--ngram-threshold", "lcs_threshold": "--lcs-threshold", "lcs_min_chars": "--lcs-min-chars",
          "cosine_threshold": "--cosine-threshold", "ngram": "--ngram", "benchmarks": "--against",
          "fields": "--field", "min_ngram": "--min-ngram", "cache_dir": "--cache-dir"}


@command
def decontaminate_cmd(
    input: Path = typer.Argument(..., help="JSONL file of generated records."),
    against: List[str] = typer.Option(..., "--against", help="Benchmark to keep out: .jsonl, .csv, .parquet or a "
                                      "datasets save_to_disk folder (repeatable)."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file for the records that match no benchmark item."),
    field: Optional[List[str]] = typer.Option(None, "--field", help="Field(s) of the records to check (repeatable); default: all values."),
    bench_field: Optional[List[str]] = typer.Option(None, "--bench-field", help="Field(s) of the benchmark items to compare, e.g. question (repeatable); default: all text values."),
    id_field: Optional[str] = typer.Option(None, "--id-field", help="Benchmark field naming an item (default: id/idx/..., else the row)."),
    split: Optional[str] = typer.Option(None, "--split", help="datasets folder of several splits: the split to read."),
    measures: str = typer.Option("ngram,lcs,cosine", "--measures", help="Measures to take, comma-separated: ngram, lcs, cosine."),
    ngram: int = typer.Option(13, "--ngram", help="Words per n-gram."),
    ngram_threshold: Optional[float] = typer.Option(None, "--ngram-threshold", help="Share of shared n-grams that rejects (default 0.1)."),
    lcs_threshold: Optional[float] = typer.Option(None, "--lcs-threshold", help="Longest common substring / shorter text that rejects (default 0.5)."),
    cosine_threshold: Optional[float] = typer.Option(None, "--cosine-threshold", help="MiniLM cosine that rejects (default 0.8)."),
    hits: Optional[Path] = typer.Option(None, "--hits", help="Also write each contaminated record with its benchmark item here (JSONL)."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Where benchmark indexes are kept (default ~/.cache/synthloom/decontaminate)."),
) -> None:
    """Drop records that repeat, contain or paraphrase a benchmark item (13-gram overlap, longest common substring, MiniLM cosine)."""
    from ..errors import RecipeError, UsageError
    from ..quality.decontaminate import decontaminate_file

    chosen = csv_list(measures)
    unknown = [m for m in chosen if m not in ("ngram", "lcs", "cosine")]
    if unknown or not chosen:
        raise UsageError(f"--measures: use ngram, lcs and/or cosine, comma-separated (got {measures!r})")
    options: dict = {"ngram": ngram, "fields": list(field) if field else None, "cache_dir": cache_dir}
    for m, given in (("ngram", ngram_threshold), ("lcs", lcs_threshold), ("cosine", cosine_threshold)):
        if m not in chosen:
            options[f"{m}_threshold"] = None
        elif given is not None:
            options[f"{m}_threshold"] = given
    bench = [{"path": a, "fields": list(bench_field) if bench_field else None, "id_field": id_field, "split": split}
             for a in against]
    try:
        res = decontaminate_file(input, output, bench, hits=hits, origin="command line", notify=console.print,
                                 **options)
    except RecipeError as exc:  # the gate's fields came from flags: name the flags
        raise RecipeError(flag_names(str(exc), _FLAGS)) from None
    per = ", ".join(f"{name} {n} of {res.items[name]} items" for name, n in res.hits.items())
    out.print(f"read {res.read}  kept {res.kept}  contaminated {res.contaminated} ({per})  ({res.seconds:.1f}s) -> {output}")
    for line, p in res.pairs[:10]:
        out.print(f"  line {line}: {p.benchmark} item {p.item} ({', '.join(p.fired)}; ngram {p.ngram:.2f}, "
                  f"lcs {p.lcs:.2f}" + (f", cosine {p.cosine:.2f}" if p.cosine is not None else "") + ")")
    if len(res.pairs) > 10:
        out.print(f"  ... {len(res.pairs) - 10} more" + (f" in {hits}" if hits else " (--hits FILE lists them all)"))
