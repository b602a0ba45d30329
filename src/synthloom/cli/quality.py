"""CLI commands for quality control: dedup, filter, judge, label-check, report, sample, review-import."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from .common import console, flag_names, out
from .options import MODEL, RejectedFileOpt, command, csv_list, executor_option


@command
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
    executor: str = executor_option("exact and minhash on Ray Data"),
) -> None:
    """Remove exact, near (MinHash LSH, confirmed by exact Jaccard) or semantic duplicates from a JSONL file."""
    from ..errors import UsageError
    from ..quality.apply import dedup_file

    if method not in ("exact", "minhash", "semantic"):
        raise UsageError(f"--method must be exact, minhash or semantic (got {method!r})")
    if unit not in ("char", "word"):
        raise UsageError(f"--unit must be char or word (got {unit!r})")
    if threshold is not None and not 0 < threshold <= 1:
        raise UsageError(f"--threshold must be in (0, 1] (got {threshold})")
    find = None
    if executor == "ray":
        from ..engine.ray_bulk import ray_dedup_texts

        if reference:
            raise UsageError("--executor ray: --reference runs on one machine only; drop one of the two")

        def find(texts, method, threshold, reference, **options):  # no references on Ray: checked above
            return ray_dedup_texts(texts, method, threshold, **options)
    res = dedup_file(input, output, method, threshold, fields=field, reference=reference or [],
                     reference_field=reference_field, groups=groups, find=find, ngram=ngram, unit=unit,
                     num_perm=num_perm, backend=backend)
    out.print(f"read {res.read}  kept {res.kept}  duplicates {res.duplicates}"
              + (f"  contaminated {res.contaminated}" if reference else "") + f"  ({method}, {res.seconds:.1f}s) -> {output}")


@command
def report_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory (holds store.sqlite)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for report.md, report.json and the plots (default RUN_DIR/report)."),
    field: Optional[List[str]] = typer.Option(None, "--field", help="Field(s) whose text the diversity and length numbers use."),
    min_agreement: float = typer.Option(0.8, "--min-agreement", help="Human review section: flag a gate whose agreement with reviewers is below this."),
) -> None:
    """Write report.md, report.json and PNG plots: funnel, rejections with examples, diversity, distributions, cost."""
    from ..export.report import write_report

    paths = write_report(run_dir, output, text_fields=list(field) if field else None, min_agreement=min_agreement)
    out.print(f"report: {paths['markdown']}  ({len(paths) - 2} plots, data in {paths['json'].name})")


@command
def sample_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory (holds store.sqlite)."),
    n: int = typer.Option(50, "-n", "--count", help="Records to sample."),
    by: Optional[str] = typer.Option(None, "--by", help="Stratify by this attribute or field (default: the label, else the first attribute)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the sample."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for sample.jsonl and sample.md (default RUN_DIR/review)."),
) -> None:
    """Write a stratified random sample of accepted records for human review (JSONL + Markdown)."""
    from ..errors import UsageError
    from ..review import write_sample

    if n <= 0:
        raise UsageError(f"-n must be > 0 (got {n})")
    res = write_sample(run_dir, n, by=by, seed=seed, out=output)
    strata = ", ".join(f"{k}: {v}" for k, v in sorted(res["strata"].items()))
    out.print(f"sampled {res['sampled']} of {res['population']}" + (f" by {res['by']} ({strata})" if res["by"] else "")
              + f"\nmark them in {res['markdown']} (or the verdict field of {res['jsonl'].name}), "
              f"then: synthloom review-import {res['markdown']}")


@command
def review_import_cmd(
    file: Path = typer.Argument(..., help="sample.md or sample.jsonl with accept/reject marks."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Read accept/reject marks and report the estimated precision with a 95% Wilson confidence interval."""
    from rich.table import Table

    from ..errors import UsageError
    from ..review import read_verdicts, summarize

    verdicts = read_verdicts(file)
    res = summarize(verdicts)
    if res.reviewed == 0:
        raise UsageError(f"{file}: no record is marked accept or reject yet; mark some, then import again")
    run_dir = _run_dir_of(file)
    if run_dir is not None:  # the sample sits in RUN_DIR/review/: its verdicts join the page's, for calibrate
        from ..runs import open_store

        with open_store(run_dir) as store:
            run_id = store.latest_run_id()
            for v in verdicts:
                if v.accepted is not None:
                    store.save_verdict(run_id, v.id, "accept" if v.accepted else "reject", note=v.note)
        console.print(f"verdicts saved in {store.path}: `synthloom calibrate {run_dir}` compares "
                      "them with the gates", highlight=False)
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


def _run_dir_of(file: Path) -> Optional[Path]:
    """The run directory a spot-check sample was written into (`synthloom sample` puts it in RUN_DIR/review/)."""
    from ..runs import has_store

    folder = Path(file).resolve().parent
    for cand in (folder, folder.parent):
        if has_store(cand):
            return cand
    return None


def _gate_file(input: Path, output: Path, gate: dict, rejected: Optional[Path], model: Optional[dict] = None,
               concurrency: int = 1, executor: str = "local") -> None:
    """filter / judge / label-check: the gate its flags describe over a JSONL file (`quality.gate_file`,
    or `engine.ray_gates.ray_gate_file` on Ray Data)."""
    from ..errors import RecipeError
    from ..quality import gate_file
    from ..quality.apply import gate_configs

    try:
        if executor == "ray":
            from ..engine.ray_gates import ray_gate_file

            ray = ray_gate_file(input, output, gate_configs([gate], "command line"), rejected=rejected,
                                model=model, concurrency=concurrency)
            reasons = ", ".join(f"{k} {v}" for k, v in ray.reasons.items())
            out.print(f"read {ray.read}  kept {ray.kept}  rejected {ray.rejected}"
                      + (f" ({reasons})" if reasons else "") + f"  ({ray.seconds:.1f}s, ray) -> {output}")
            return
        res = gate_file(input, output, [gate], rejected=rejected, model=model, concurrency=concurrency,
                        origin="command line")
    except RecipeError as exc:  # the gate's fields came from flags: name the flag (min_words -> --min-words)
        raise RecipeError(flag_names(str(exc))) from None
    reasons = ", ".join(f"{k} {v}" for k, v in res.reasons().items())
    out.print(f"read {res.read}  kept {len(res.kept)}  rejected {len(res.rejected)}" + (f" ({reasons})" if reasons else "")
              + f"  ({res.seconds:.1f}s) -> {output}")


@command
def filter_cmd(
    input: Path = typer.Argument(..., help="JSONL file of records."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file for the records that pass."),
    field: Optional[List[str]] = typer.Option(None, "--field", help="Field(s) to check (repeatable); default: all values."),
    min_words: Optional[int] = typer.Option(None, "--min-words", help="Reject records with fewer words."),
    max_words: Optional[int] = typer.Option(None, "--max-words", help="Reject records with more words."),
    min_chars: Optional[int] = typer.Option(None, "--min-chars", help="Reject records with fewer characters."),
    max_chars: Optional[int] = typer.Option(None, "--max-chars", help="Reject records with more characters."),
    blacklist: Optional[List[str]] = typer.Option(None, "--blacklist", help="Word or phrase that rejects a record (repeatable)."),
    language: Optional[List[str]] = typer.Option(None, "--language", help="Expected language code, e.g. en (repeatable)."),
    refusals: bool = typer.Option(True, "--refusals/--no-refusals", help="Reject refusals and assistant boilerplate."),
    max_repeat: Optional[float] = typer.Option(0.3, "--max-repeated-ngram-share", help="Reject generation loops above this share."),
    rejected: Optional[Path] = RejectedFileOpt,
    executor: str = executor_option("the gate in map_batches on Ray Data; -o an empty folder: shards"),
) -> None:
    """Heuristic filters on a JSONL file: length, blacklist, refusals/boilerplate, language, repeated n-grams."""
    cfg = {"gate": "filter", "fields": list(field) if field else None, "min_words": min_words,
           "max_words": max_words, "min_chars": min_chars, "max_chars": max_chars,
           "blacklist": list(blacklist or []), "language": list(language) if language else None,
           "refusals": refusals, "max_repeated_ngram_share": max_repeat}
    _gate_file(input, output, cfg, rejected, executor=executor)


@command
def judge_cmd(
    input: Path = typer.Argument(..., help="JSONL file of records."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file for the records scored at or above the threshold."),
    threshold: int = typer.Option(3, "--threshold", help="Minimum score (1-5) to keep."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", help="Text file with the rubric (what a 5 and a 1 look like)."),
    criteria: Optional[List[str]] = typer.Option(None, "--criterion", help="Extra point the judge checks (repeatable)."),
    field: Optional[List[str]] = typer.Option(None, "--field", help="Field(s) the judge sees (repeatable); default: all."),
    concurrency: int = typer.Option(4, "--concurrency", help="Records judged at once."),
    rejected: Optional[Path] = RejectedFileOpt,
    model: dict = MODEL,
    executor: str = executor_option("the gate in map_batches on Ray Data; -o an empty folder: shards"),
) -> None:
    """LLM-as-judge on a JSONL file: a 1-5 score and rationale per record (under _scores); keep >= threshold."""
    from ..userfiles import read_text

    cfg = {"gate": "judge", "threshold": threshold, "criteria": list(criteria or []),
           "fields": list(field) if field else None, "rubric": read_text(rubric, "rubric file") if rubric else None}
    _gate_file(input, output, cfg, rejected, model, concurrency, executor)


@command
def label_check_cmd(
    input: Path = typer.Argument(..., help="JSONL file of labelled records."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file for the records whose label was confirmed."),
    labels: str = typer.Option(..., "--labels", help="The allowed labels, comma-separated."),
    label_field: str = typer.Option("label", "--label-field", help="Field holding the label."),
    task: Optional[str] = typer.Option(None, "--task", help="What the labels mean, e.g. 'sentiment of a review'."),
    flag: bool = typer.Option(False, "--flag", help="Keep disagreements, flagged in _scores, instead of rejecting them."),
    concurrency: int = typer.Option(4, "--concurrency", help="Records checked at once."),
    rejected: Optional[Path] = RejectedFileOpt,
    model: dict = MODEL,
    executor: str = executor_option("the gate in map_batches on Ray Data; -o an empty folder: shards"),
) -> None:
    """Label verification on a JSONL file: an independent pass predicts each label without seeing it."""
    cfg = {"gate": "label", "labels": csv_list(labels), "label_field": label_field, "task": task,
           "action": "flag" if flag else "reject"}
    _gate_file(input, output, cfg, rejected, model, concurrency, executor)
