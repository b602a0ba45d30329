"""Schema coverage on the 120 JSONSchemaBench schemas, on the bundled model.

Two paths:

``--path engine`` (default) measures what a user gets: per schema it builds the
same recipe as ``synthloom generate schema --schema FILE -n 1 -o TMP/out.jsonl``
(``recipe_from_dict`` then ``synthloom.engine.arun_recipe``), with one shared
``LlamaCppLLM`` so the model loads once (the only difference from the CLI), then
reads the written JSONL and validates the record against the original schema
(jsonschema, the schema's own draft, formats checked). A SchemaError/RecipeError
for a schema counts as a miss, with its message.

``--path direct``: for each schema: generate one instance through the llama.cpp backend with the
schema constrained by llguidance (no instruction: the schema's own titles and
descriptions are the prompt), validate it with jsonschema (formats checked),
and retry per ``synthloom.llm.structured.generate_for_schema`` when it fails.
Reports the share of schemas with a valid instance, per split, next to the
published numbers (JSONSchemaBench, Llama-3.2-1B, greedy, one try).

    python benchmarks/schema_coverage.py --out docs/schema_coverage.md --details /tmp/coverage.jsonl
    python benchmarks/schema_coverage.py --path direct --out /tmp/direct.md
    # the report of runs made in parts (e.g. --dir with a subset each), from their --details files
    python benchmarks/schema_coverage.py --report-from /tmp/part1.jsonl /tmp/part2.jsonl --out /tmp/all.md

Every root is measured as the CLI delivers it: a schema whose root is an array, a string or a union
gives a record that is that value (one JSONL line), validated as written.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

from synthloom.config.models import LlamaCppModel
from synthloom.llm.llamacpp import LlamaCppLLM
from synthloom.llm.structured import DEFAULT_LADDER, generate_for_schema

DEFAULT_DIR = Path(os.environ.get("JSONSCHEMABENCH_DIR", "/work/shared/bench/jsonschemabench"))

# Published coverage, Llama-3.2-1B greedy (arXiv 2501.10868): Guidance, the best engine per split.
PUBLISHED = {
    "Glaiveai2K": ("Glaive", 0.96, 0.95, 0.90),
    "Github_easy": ("GitHub-Easy", 0.86, 0.75, 0.65),
    "Github_medium": ("GitHub-Medium", 0.69, 0.57, 0.38),
    "Github_hard": ("GitHub-Hard", 0.41, 0.39, 0.13),
    "Kubernetes": ("Kubernetes", 0.91, 0.76, 0.56),
}


async def run(files: list[Path], max_tokens: int, timeout_s: float, tries: int, details: Path | None) -> list[dict]:
    llm = LlamaCppLLM(LlamaCppModel())
    llm.request_timeout_s = timeout_s
    rows = []
    out = details.open("w") if details else None
    try:
        for i, f in enumerate(files):
            split = f.name.split("__", 1)[0]
            t0 = time.perf_counter()
            try:
                schema = json.loads(f.read_text())
                outcome = await generate_for_schema(llm, schema, seed=i, max_tokens=max_tokens,
                                                    ladder=DEFAULT_LADDER[:tries])
                ok, n, errors, tokens = outcome.ok, outcome.tries, outcome.errors, outcome.tokens
                value = outcome.value
            except Exception as exc:  # a broken schema file counts as a miss, not a crash
                ok, n, errors, tokens, value = False, 0, [f"{type(exc).__name__}: {exc}"], 0, None
            secs = time.perf_counter() - t0
            row = {"split": split, "file": f.name, "ok": ok, "tries": n, "tokens": tokens, "seconds": round(secs, 2),
                   "errors": [e[:300] for e in errors]}
            rows.append(row)
            print(f"[{i + 1}/{len(files)}] {f.name[:60]:60s} {'OK ' if ok else 'MISS'} tries={n} "
                  f"tok={tokens} {secs:5.1f}s {'' if ok else (errors[-1][:120] if errors else '')}",
                  file=sys.stderr, flush=True)
            if out:
                out.write(json.dumps({**row, "value": value}, default=str) + "\n")
                out.flush()
    finally:
        if out:
            out.close()
        await llm.aclose()
    return rows


def _validates(schema: dict, value) -> list[str]:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=Draft202012Validator)
    v = cls(schema, format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in v.iter_errors(value)][:3]


async def run_engine(files: list[Path], max_tokens: int, timeout_s: float, attempts: int,
                     details: Path | None, keep: Path | None) -> list[dict]:
    """Per schema: the recipe `synthloom generate schema --schema FILE -n 1` builds, run by the engine."""
    import tempfile

    from synthloom.engine import arun_recipe
    from synthloom.engine.recipe_file import recipe_from_dict
    from synthloom.errors import SynthloomError

    llm = LlamaCppLLM(LlamaCppModel())
    llm.request_timeout_s = timeout_s
    rows = []
    out = details.open("w") if details else None
    try:
        for i, f in enumerate(files):
            split = f.name.split("__", 1)[0]
            t0 = time.perf_counter()
            ok, errors, value, tries, tokens = False, [], None, 0, 0
            with tempfile.TemporaryDirectory(prefix="cov_") as tmp:
                work = Path(keep, f.stem) if keep else Path(tmp)
                work.mkdir(parents=True, exist_ok=True)
                output = work / "out.jsonl"
                data = {  # as generate_schema in synthloom/cli builds it, plus the per-schema time bound
                    "name": output.stem,
                    "count": 1,
                    "model": {"backend": "llamacpp"},
                    "generate": {"technique": "schema", "schema": str(f), "instruction": None,
                                 "attributes": {}, "examples": [], "sampling": {"max_tokens": max_tokens}},
                    "engine": {"concurrency": 1, "seed": 0, "max_attempts": attempts},
                    "output": {"with_meta": False},
                }
                try:
                    recipe = recipe_from_dict(data, "command line")
                    summary = await arun_recipe(recipe, base_dir=work, output=output, llm=llm)
                    lines = [l for l in output.read_text().splitlines() if l.strip()] if output.exists() else []
                    rej = _rejections(summary)
                    tries = len(rej) + (1 if lines else 0)
                    tokens = summary.completion_tokens
                    if lines:
                        value = json.loads(lines[0])
                        errors = _validates(json.loads(f.read_text()), value)
                        ok = not errors
                        errors = rej + (["written record does not validate: " + "; ".join(errors)] if errors else [])
                    else:
                        errors = rej or [f"no record written (stopped by {getattr(summary, 'stopped_by', '?')})"]
                except SynthloomError as exc:
                    errors = [f"{type(exc).__name__}: {exc}"]
                except Exception as exc:  # noqa: BLE001 - a crash is a miss, with its reason
                    errors = [f"CRASH {type(exc).__name__}: {exc}"]
            secs = time.perf_counter() - t0
            row = {"split": split, "file": f.name, "ok": ok, "tries": tries, "tokens": tokens,
                   "seconds": round(secs, 2), "errors": [e[:300] for e in errors]}
            rows.append(row)
            print(f"[{i + 1}/{len(files)}] {f.name[:60]:60s} {'OK ' if ok else 'MISS'} tries={tries} "
                  f"tok={tokens} {secs:5.1f}s {'' if ok else (errors[-1][:160] if errors else '')}",
                  file=sys.stderr, flush=True)
            if out:
                out.write(json.dumps({**row, "value": value}, default=str) + "\n")
                out.flush()
    finally:
        if out:
            out.close()
        await llm.aclose()
    return rows


def _rejections(summary) -> list[str]:
    """`stage/reason: detail` of every rejected try, from the run's store."""
    from synthloom.runs import RunStore

    with RunStore(Path(summary.run_dir) / "store.sqlite") as store:
        return [f"{r.stage}/{r.reason}: {r.detail}" for r in store.rejections(summary.run_id)]


def report(rows: list[dict], args: argparse.Namespace) -> str:
    by = defaultdict(list)
    for r in rows:
        by[r["split"]].append(r)
    how = (f"engine path (the `synthloom generate schema --schema FILE -n 1` recipe, engine.max_attempts="
           f"{args.attempts}, each attempt retried on the narrowing ladder)" if args.path == "engine" else
           f"direct path, up to {args.tries} tries per schema (retry ladder in `synthloom.llm.structured`)")
    lines = [
        f"Bundled Gemma 3 270M Q4_K_M with llguidance, {len(rows)} schemas, {how}, max_tokens={args.max_tokens}, "
        f"{args.timeout:.0f} s cap per try, jsonschema with format checking. {time.strftime('%Y-%m-%d')}.",
        "",
        "| split | schemas | valid (any try) | valid at try 1 | Guidance (published) | llama.cpp | model alone |"
        " mean tries | mean s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for split in sorted(by, key=lambda s: (s not in PUBLISHED, s)):
        xs = by[split]
        share = sum(r["ok"] for r in xs) / len(xs)
        first = sum(r["ok"] and r["tries"] == 1 for r in xs) / len(xs)
        name, guid, lcpp, alone = PUBLISHED.get(split, (split, None, None, None))
        fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(
            f"| {name} | {len(xs)} | **{share:.2f}** | {first:.2f} | {fmt(guid)} | {fmt(lcpp)} | {fmt(alone)} | "
            f"{sum(r['tries'] for r in xs) / len(xs):.1f} | {sum(r['seconds'] for r in xs) / len(xs):.1f} |"
        )
    total = sum(r["ok"] for r in rows) / max(1, len(rows))
    lines += ["", f"All {len(rows)} schemas: {total:.2f} valid; total time "
              f"{sum(r['seconds'] for r in rows) / 60:.1f} min."]
    misses = [r for r in rows if not r["ok"]]
    if misses:
        lines += ["", "Misses (last error):", ""]
        for r in misses:
            last = r["errors"][-1] if r["errors"] else ""
            lines.append(f"- `{r['file']}`: {last[:200]}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", choices=("engine", "direct"), default="engine",
                    help="engine: the `synthloom generate schema -n 1` recipe through the engine (default); "
                    "direct: synthloom.llm.structured.generate_for_schema")
    ap.add_argument("--attempts", type=int, default=2,
                    help="engine path: engine.max_attempts (each attempt retries on the narrowing ladder)")
    ap.add_argument("--keep", type=Path, default=None, help="engine path: keep each schema's run folder here")
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder of <split>__<name>.json schemas")
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--timeout", type=float, default=45.0, help="wall-clock cap per try, seconds")
    ap.add_argument("--tries", type=int, default=len(DEFAULT_LADDER))
    ap.add_argument("--only", default="", help="substring filter on file names")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the markdown report here")
    ap.add_argument("--details", type=Path, default=None, help="write one JSON line per schema here")
    ap.add_argument("--report-from", type=Path, nargs="+", default=None,
                    help="no run: the report of these --details files (runs made in parts)")
    args = ap.parse_args()
    if args.report_from:
        rows = [json.loads(line) for p in args.report_from for line in p.read_text().splitlines() if line.strip()]
        rows.sort(key=lambda r: r["file"])
        md = report(rows, args)
        print(md)
        if args.out:
            args.out.write_text(md)
        return
    logging.basicConfig(level=logging.ERROR)
    files = sorted(p for p in args.dir.glob("*.json") if args.only in p.name)
    if args.limit:
        files = files[: args.limit]
    if args.path == "engine":
        rows = asyncio.run(run_engine(files, args.max_tokens, args.timeout, args.attempts, args.details, args.keep))
    else:
        rows = asyncio.run(run(files, args.max_tokens, args.timeout, args.tries, args.details))
    md = report(rows, args)
    print(md)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)


if __name__ == "__main__":
    main()
