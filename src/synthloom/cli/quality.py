"""CLI commands for quality control: dedup, report, sample, review-import."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer

from .common import cli_errors, console, out

DebugOpt = typer.Option(False, "--debug", help="Show tracebacks and debug logs.")


def _read_jsonl(path: Path) -> tuple[list[str], list[dict]]:
    from ..errors import InputFileError

    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    lines, rows = [], []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise InputFileError(f"{path}:{n}: not valid JSON ({exc}); each line must be one JSON record") from exc
            lines.append(line.rstrip("\n"))
            rows.append(value if isinstance(value, dict) else {"text": value})
    return lines, rows


def dedup_cmd(
    input: Path = typer.Argument(..., help="JSONL file to deduplicate."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file for the kept records (first of each group)."),
    field: Optional[List[str]] = typer.Option(None, "--field", help="Field(s) to compare (repeatable); default: all values."),
    method: str = typer.Option("exact", "--method", help="exact | minhash | semantic."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="minhash: Jaccard (default 0.8); semantic: cosine (default 0.85)."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="Also write the duplicate groups here (JSONL)."),
    reference: Optional[List[Path]] = typer.Option(None, "--reference", help="JSONL of records to keep out (decontamination); repeatable."),
    reference_field: Optional[str] = typer.Option(None, "--reference-field", help="Field of the reference records (default: --field)."),
    ngram: int = typer.Option(5, "--ngram", help="minhash: shingle size."),
    unit: str = typer.Option("char", "--unit", help="minhash: char or word shingles."),
    num_perm: int = typer.Option(128, "--num-perm", help="minhash: permutations."),
    backend: str = typer.Option("auto", "--backend", help="minhash: auto | rensa | datasketch | numpy."),
    debug: bool = DebugOpt,
) -> None:
    """Remove exact, near (MinHash LSH, confirmed by exact Jaccard) or semantic duplicates from a JSONL file."""
    from ..errors import UsageError
    from ..export.writers import atomic_path
    from ..quality.dedup import dedup_texts, load_reference_texts
    from ..quality.text import record_text

    with cli_errors(debug):
        if method not in ("exact", "minhash", "semantic"):
            raise UsageError(f"--method must be exact, minhash or semantic (got {method!r})")
        if unit not in ("char", "word"):
            raise UsageError(f"--unit must be char or word (got {unit!r})")
        if threshold is not None and not 0 < threshold <= 1:
            raise UsageError(f"--threshold must be in (0, 1] (got {threshold})")
        started = time.perf_counter()
        lines, rows = _read_jsonl(input)
        fields = list(field) if field else None
        texts = [record_text(r, fields) for r in rows]
        refs = load_reference_texts([str(p) for p in reference or []], reference_field or fields, Path.cwd())
        marks = dedup_texts(texts, method, threshold, reference=refs, ngram=ngram, unit=unit, num_perm=num_perm,
                            backend=backend)
        kept = [line for line, m in zip(lines, marks) if m is None]
        with atomic_path(output) as tmp:
            tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
        n_ref = sum(1 for m in marks if m and m[0] == "reference")
        if groups:
            grouped: dict[int, list] = {}
            contaminated = []
            for i, m in enumerate(marks):
                if m and m[0] == "kept":
                    grouped.setdefault(m[1], []).append({"line": i + 1, "similarity": round(m[2], 4)})
                elif m:
                    contaminated.append({"line": i + 1, "reference": m[1] + 1, "similarity": round(m[2], 4)})
            with atomic_path(groups) as tmp:
                body = [json.dumps({"kept": k + 1, "duplicates": v}) for k, v in sorted(grouped.items())]
                body += [json.dumps({"contaminated": c}) for c in contaminated]
                tmp.write_text("".join(b + "\n" for b in body), encoding="utf-8")
        took = time.perf_counter() - started
        out.print(f"read {len(lines)}  kept {len(kept)}  duplicates {len(lines) - len(kept) - n_ref}"
                  + (f"  contaminated {n_ref}" if refs else "") + f"  ({method}, {took:.1f}s) -> {output}")


def report_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory (holds store.sqlite)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for report.md, report.json and the plots (default RUN_DIR/report)."),
    field: Optional[List[str]] = typer.Option(None, "--field", help="Field(s) whose text the diversity and length numbers use."),
    debug: bool = DebugOpt,
) -> None:
    """Write report.md, report.json and PNG plots: funnel, rejections with examples, diversity, distributions, cost."""
    from ..export.report import write_report

    with cli_errors(debug):
        paths = write_report(run_dir, output, text_fields=list(field) if field else None)
        out.print(f"report: {paths['markdown']}  ({len(paths) - 2} plots, data in {paths['json'].name})")


def sample_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory (holds store.sqlite)."),
    n: int = typer.Option(50, "-n", "--count", help="Records to sample."),
    by: Optional[str] = typer.Option(None, "--by", help="Stratify by this attribute or field (default: the label, else the first attribute)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the sample."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for sample.jsonl and sample.md (default RUN_DIR/review)."),
    debug: bool = DebugOpt,
) -> None:
    """Write a stratified random sample of accepted records for human review (JSONL + Markdown)."""
    from ..errors import UsageError
    from ..review import write_sample

    with cli_errors(debug):
        if n <= 0:
            raise UsageError(f"-n must be > 0 (got {n})")
        res = write_sample(run_dir, n, by=by, seed=seed, out=output)
        strata = ", ".join(f"{k}: {v}" for k, v in sorted(res["strata"].items()))
        out.print(f"sampled {res['sampled']} of {res['population']}" + (f" by {res['by']} ({strata})" if res["by"] else "")
                  + f"\nmark them in {res['markdown']} (or the verdict field of {res['jsonl'].name}), "
                  f"then: synthloom review-import {res['markdown']}")


def review_import_cmd(
    file: Path = typer.Argument(..., help="sample.md or sample.jsonl with accept/reject marks."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    debug: bool = DebugOpt,
) -> None:
    """Read accept/reject marks and report the estimated precision with a 95% Wilson confidence interval."""
    from rich.table import Table

    from ..errors import UsageError
    from ..review import read_verdicts, summarize

    with cli_errors(debug):
        res = summarize(read_verdicts(file))
        if res.reviewed == 0:
            raise UsageError(f"{file}: no record is marked accept or reject yet; mark some, then import again")
        if as_json:
            out.print_json(json.dumps(res.as_dict()))
            return
        out.print(f"precision {res.precision:.1%} (95% CI {res.ci_low:.1%} - {res.ci_high:.1%}): "
                  f"{res.accepted} of {res.reviewed} reviewed records accepted"
                  + (f"; {res.unmarked} unmarked" if res.unmarked else ""))
        if len(res.by_stratum) > 1:
            t = Table("stratum", "reviewed", "accepted", "precision", "95% CI")
            for s, x in res.by_stratum.items():
                t.add_row(s, str(x["reviewed"]), str(x["accepted"]), f"{x['precision']:.0%}",
                          f"{x['ci95'][0]:.0%} - {x['ci95'][1]:.0%}")
            out.print(t)
        for rid, note in res.rejected_notes[:10]:
            console.print(f"  rejected {rid}: {note}")


def register(app: typer.Typer, generate_app: typer.Typer) -> None:
    app.command("dedup")(dedup_cmd)
    app.command("report")(report_cmd)
    app.command("sample")(sample_cmd)
    app.command("review-import")(review_import_cmd)
