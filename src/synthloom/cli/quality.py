"""CLI commands for quality control: dedup, filter, judge, label-check, report, sample, review-import."""
from __future__ import annotations

import json
import re
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
    executor: str = typer.Option("local", "--executor", help="local | ray (exact and minhash on Ray Data; RAY_ADDRESS or a local cluster)."),
    debug: bool = DebugOpt,
) -> None:
    """Remove exact, near (MinHash LSH, confirmed by exact Jaccard) or semantic duplicates from a JSONL file."""
    from ..errors import UsageError
    from ..export.writers import atomic_path
    from ..quality.dedup import dedup_texts, load_reference_texts
    from ..quality.text import record_text
    from ..userfiles import check_file

    with cli_errors(debug):
        if method not in ("exact", "minhash", "semantic"):
            raise UsageError(f"--method must be exact, minhash or semantic (got {method!r})")
        if unit not in ("char", "word"):
            raise UsageError(f"--unit must be char or word (got {unit!r})")
        if threshold is not None and not 0 < threshold <= 1:
            raise UsageError(f"--threshold must be in (0, 1] (got {threshold})")
        for path in (output, groups):  # both checked before either is written
            if path is not None:
                check_file(path, "output file")
        started = time.perf_counter()
        lines, rows = _read_jsonl(input)
        fields = list(field) if field else None
        texts = [record_text(r, fields) for r in rows]
        refs = load_reference_texts([str(p) for p in reference or []], reference_field or fields, Path.cwd())
        if executor not in ("local", "ray"):
            raise UsageError(f"--executor must be local or ray (got {executor!r})")
        if executor == "ray":
            from ..engine.ray_bulk import ray_dedup_texts

            if refs:
                raise UsageError("--executor ray: --reference runs on one machine only; drop one of the two")
            marks = ray_dedup_texts(texts, method, threshold, ngram=ngram, unit=unit, num_perm=num_perm,
                                    backend=backend)
        else:
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
    min_agreement: float = typer.Option(0.8, "--min-agreement", help="Human review section: flag a gate whose agreement with reviewers is below this."),
    debug: bool = DebugOpt,
) -> None:
    """Write report.md, report.json and PNG plots: funnel, rejections with examples, diversity, distributions, cost."""
    from ..export.report import write_report

    with cli_errors(debug):
        paths = write_report(run_dir, output, text_fields=list(field) if field else None, min_agreement=min_agreement)
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
        verdicts = read_verdicts(file)
        res = summarize(verdicts)
        if res.reviewed == 0:
            raise UsageError(f"{file}: no record is marked accept or reject yet; mark some, then import again")
        run_dir = _run_dir_of(file)
        if run_dir is not None:  # the sample sits in RUN_DIR/review/: its verdicts join the page's, for calibrate
            from ..export.report import open_store

            with open_store(run_dir) as store:
                run_id = store.latest_run_id()
                for v in verdicts:
                    if v.accepted is not None:
                        store.save_verdict(run_id, v.id, "accept" if v.accepted else "reject", note=v.note)
            console.print(f"verdicts saved in {run_dir}/store.sqlite: `synthloom calibrate {run_dir}` compares "
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
    folder = Path(file).resolve().parent
    for cand in (folder, folder.parent):
        if (cand / "store.sqlite").is_file():
            return cand
    return None


def _gate_file(input: Path, output: Path, gate_configs: list[dict], rejected: Optional[Path], needs_model: bool,
               model_cfg: Optional[dict], concurrency: int) -> None:
    """Read JSONL, run the gates, write the kept records (and the rejected ones with their reasons)."""
    import asyncio

    from pydantic import TypeAdapter, ValidationError

    from ..config.quality import GateConfig
    from ..errors import UsageError
    from ..export.writers import atomic_path
    from ..quality import build_gates
    from ..quality.apply import aapply_gates
    from ..quality.base import GateContext
    from ..records import Record

    try:
        configs = [TypeAdapter(GateConfig).validate_python(c) for c in gate_configs]
    except ValidationError as exc:  # the options came from flags: name the flag (min_words -> --min-words)
        from ..config.messages import describe_validation_error

        lines = describe_validation_error(exc, "command line", gate_configs[0]).splitlines()
        raise UsageError(re.sub(r"^command line: (\w+)", lambda m: "--" + m.group(1).replace("_", "-"),
                                lines[0])) from None
    from ..userfiles import check_file

    for path in (output, rejected):  # both checked before the gates run and before either is written
        if path is not None:
            check_file(path, "output file")
    gates = build_gates(configs, Path.cwd())
    lines, rows = _read_jsonl(input)
    records = [Record(r) for r in rows]
    # a line that is not an object (an array or string record) is read as {"text": value}; written back as it was
    originals = {id(r): v for r, v in ((r, json.loads(line)) for r, line in zip(rows, lines)) if not isinstance(v, dict)}

    async def go():
        llm = None
        if needs_model:
            from ..llm.factory import build_llm
            from ..config.models import LlamaCppModel, OpenAIModel

            cfg = model_cfg or {}
            llm = build_llm([OpenAIModel(**cfg) if cfg.get("backend") == "openai" else LlamaCppModel(**cfg)])
        try:
            return await aapply_gates(records, gates, GateContext(llm=llm), concurrency)
        finally:
            if llm is not None:
                await llm.aclose()

    started = time.perf_counter()
    kept, rej = asyncio.run(go())
    with atomic_path(output) as tmp:
        body = []
        for rec in kept:  # judged/labelled records carry their scores under _scores
            row = {"value": originals[id(rec.data)]} if id(rec.data) in originals else dict(rec.data)
            if id(rec.data) in originals and not rec.meta.get("scores") and not rec.meta.get("judge"):
                body.append(json.dumps(originals[id(rec.data)], ensure_ascii=False))
                continue
            if rec.meta.get("scores"):
                row["_scores"] = rec.meta["scores"]
            if rec.meta.get("judge"):
                row["_scores"] = {**row.get("_scores", {}), "judge_rationale": rec.meta["judge"]["rationale"]}
            body.append(json.dumps(row, ensure_ascii=False))
        tmp.write_text("".join(b + "\n" for b in body), encoding="utf-8")
    if rejected:
        with atomic_path(rejected) as tmp:
            tmp.write_text("".join(json.dumps({"stage": r.stage, "reason": r.reason, "detail": r.detail,
                                               "data": r.data}, ensure_ascii=False) + "\n" for r in rej),
                           encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rej:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    out.print(f"read {len(lines)}  kept {len(kept)}  rejected {len(rej)}" + (f" ({reasons})" if reasons else "")
              + f"  ({time.perf_counter() - started:.1f}s) -> {output}")


RejectedOpt = typer.Option(None, "--rejected", help="Also write the rejected records with stage, reason and detail (JSONL).")


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
    rejected: Optional[Path] = RejectedOpt,
    debug: bool = DebugOpt,
) -> None:
    """Heuristic filters on a JSONL file: length, blacklist, refusals/boilerplate, language, repeated n-grams."""
    with cli_errors(debug):
        cfg = {"gate": "filter", "fields": list(field) if field else None, "min_words": min_words,
               "max_words": max_words, "min_chars": min_chars, "max_chars": max_chars,
               "blacklist": list(blacklist or []), "language": list(language) if language else None,
               "refusals": refusals, "max_repeated_ngram_share": max_repeat}
        _gate_file(input, output, [cfg], rejected, False, None, 1)


def _model_cfg(backend: str, base_url: Optional[str], model: Optional[str], api_key_env: Optional[str],
               gguf: Optional[str]) -> dict:
    from . import model_options

    return model_options(backend, base_url, model, api_key_env, gguf)


def judge_cmd(
    input: Path = typer.Argument(..., help="JSONL file of records."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file for the records scored at or above the threshold."),
    threshold: int = typer.Option(3, "--threshold", help="Minimum score (1-5) to keep."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", help="Text file with the rubric (what a 5 and a 1 look like)."),
    criteria: Optional[List[str]] = typer.Option(None, "--criterion", help="Extra point the judge checks (repeatable)."),
    field: Optional[List[str]] = typer.Option(None, "--field", help="Field(s) the judge sees (repeatable); default: all."),
    concurrency: int = typer.Option(4, "--concurrency", help="Records judged at once."),
    rejected: Optional[Path] = RejectedOpt,
    backend: str = typer.Option("llamacpp", "--backend", help="llamacpp (bundled model) or openai."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    model: Optional[str] = typer.Option(None, "--model", help="Model name on the server (openai backend)."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Environment variable holding the API key."),
    gguf: Optional[str] = typer.Option(None, "--gguf", help="A GGUF file for the llamacpp backend."),
    debug: bool = DebugOpt,
) -> None:
    """LLM-as-judge on a JSONL file: a 1-5 score and rationale per record (under _scores); keep >= threshold."""
    from ..userfiles import read_text

    with cli_errors(debug):
        cfg = {"gate": "judge", "threshold": threshold, "criteria": list(criteria or []),
               "fields": list(field) if field else None, "rubric": read_text(rubric, "rubric file") if rubric else None}
        _gate_file(input, output, [cfg], rejected, True, _model_cfg(backend, base_url, model, api_key_env, gguf),
                   concurrency)


def label_check_cmd(
    input: Path = typer.Argument(..., help="JSONL file of labelled records."),
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file for the records whose label was confirmed."),
    labels: str = typer.Option(..., "--labels", help="The allowed labels, comma-separated."),
    label_field: str = typer.Option("label", "--label-field", help="Field holding the label."),
    task: Optional[str] = typer.Option(None, "--task", help="What the labels mean, e.g. 'sentiment of a review'."),
    flag: bool = typer.Option(False, "--flag", help="Keep disagreements, flagged in _scores, instead of rejecting them."),
    concurrency: int = typer.Option(4, "--concurrency", help="Records checked at once."),
    rejected: Optional[Path] = RejectedOpt,
    backend: str = typer.Option("llamacpp", "--backend", help="llamacpp (bundled model) or openai."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    model: Optional[str] = typer.Option(None, "--model", help="Model name on the server (openai backend)."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Environment variable holding the API key."),
    gguf: Optional[str] = typer.Option(None, "--gguf", help="A GGUF file for the llamacpp backend."),
    debug: bool = DebugOpt,
) -> None:
    """Label verification on a JSONL file: an independent pass predicts each label without seeing it."""
    with cli_errors(debug):
        cfg = {"gate": "label", "labels": [x.strip() for x in labels.split(",") if x.strip()],
               "label_field": label_field, "task": task, "action": "flag" if flag else "reject"}
        _gate_file(input, output, [cfg], rejected, True, _model_cfg(backend, base_url, model, api_key_env, gguf),
                   concurrency)


def register(app: typer.Typer, generate_app: typer.Typer) -> None:
    app.command("dedup")(dedup_cmd)
    app.command("filter")(filter_cmd)
    app.command("judge")(judge_cmd)
    app.command("label-check")(label_check_cmd)
    app.command("report")(report_cmd)
    app.command("sample")(sample_cmd)
    app.command("review-import")(review_import_cmd)
