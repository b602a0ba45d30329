"""The domain zoo: does a user's own schema come out as the user wrote it?

Thirteen schemas from domains the project never used (benchmarks/zoo/*.yaml), each with two few-shot
examples and an instruction, generated with the schema technique on the bundled model, with the
narrowing learned from the examples (llm/narrowing.py) on and off. Measured per domain, on the
accepted records:

- shape kept: of the short string fields whose examples share a shape (`narrowing.shape_pattern`),
  the share of values that keep it;
- numbers kept: the share of numbers with at most the examples' decimals and within one order of
  ten of the examples' orders;
- era kept: the share of `format: date` values within 50 years of the examples' years;
- yield (accepted / attempts) and seconds per accepted record.

    python benchmarks/zoo.py [-n 8] [--only history,law] [--out docs/benchmarks_zoo.md] [--records FILE]

Writes the table (markdown) to --out and every accepted record to --records (JSONL) for reading.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

from synthloom import Recipe, run_recipe
from synthloom.llm import narrowing

ZOO = Path(__file__).parent / "zoo"
OFF = {"shapes": False, "dates": False, "numbers": False}


def recipe_for(case: dict, name: str, count: int, narrowing_on: bool, seed: int) -> Recipe:
    gen = {"technique": "schema", "schema": case["schema"], "instruction": case["instruction"],
           "examples": case["examples"], "rules": case.get("rules", []),
           "sampling": {"temperature": 0.9, "max_tokens": 256}}
    if not narrowing_on:
        gen["narrowing"] = OFF
    return Recipe.model_validate({"name": f"zoo-{name}", "count": count, "model": {"backend": "llamacpp"},
                                  "generate": gen, "quality": [{"gate": "dedup", "method": "exact"}],
                                  "engine": {"concurrency": 1, "seed": seed, "max_attempts": 4 * count}})


def _order(x: float) -> int:
    return math.floor(math.log10(abs(x))) if x else 0


def measure(case: dict, records: list[dict]) -> dict:
    """Shares of kept shapes, numbers and eras over the accepted records (None where the schema has none)."""
    props, examples = case["schema"]["properties"], case["examples"]
    shape_hits = shape_all = num_hits = num_all = era_hits = era_all = 0
    for key, sub in props.items():
        shown = [ex[key] for ex in examples if key in ex]
        values = [r[key] for r in records if key in r]
        if sub.get("type") == "string" and sub.get("format") == "date":
            years = [int(v[:4]) for v in shown if re.match(r"\d{4}-", v)]
            for v in values:
                era_all += 1
                m = re.match(r"(\d{4})-", str(v))
                era_hits += bool(m and min(years) - 50 <= int(m.group(1)) <= max(years) + 50)
        elif sub.get("type") == "string" and "enum" not in sub:
            pattern = narrowing.shape_pattern(sorted(set(shown)))
            if pattern:
                shape_all += len(values)
                shape_hits += sum(bool(re.fullmatch(pattern, str(v))) for v in values)
        elif sub.get("type") in ("number", "integer") and len(shown) >= 2:
            places = max(narrowing.decimals(v) for v in shown)
            orders = [_order(v) for v in shown]
            for v in values:
                num_all += 1
                num_hits += (narrowing.decimals(v) <= places and
                             (v == 0 or min(orders) - 1 <= _order(v) <= max(orders) + 1))
    share = lambda hits, n: round(hits / n, 3) if n else None  # noqa: E731
    return {"shape": share(shape_hits, shape_all), "numbers": share(num_hits, num_all),
            "era": share(era_hits, era_all), "values": shape_all + num_all + era_all}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=8, help="records per domain and setting")
    ap.add_argument("--only", default="", help="comma list of domains")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default="")
    ap.add_argument("--records", default="")
    args = ap.parse_args()
    only = {x for x in args.only.split(",") if x}
    rows, dump = [], []
    for path in sorted(ZOO.glob("*.yaml")):
        if only and path.stem not in only:
            continue
        case = yaml.safe_load(path.read_text())
        for on in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                summary = run_recipe(recipe_for(case, path.stem, args.n, on, args.seed), base_dir=ZOO,
                                     output=Path(tmp) / "out.jsonl")
                secs = time.perf_counter() - t0
                records = [json.loads(line) for line in (Path(tmp) / "out.jsonl").read_text().splitlines() if line]
            m = measure(case, records)
            attempts = summary.funnel.get("generated", 0)
            row = {"domain": path.stem, "narrowing": "on" if on else "off", "accepted": len(records),
                   "attempts": attempts, "s_per_record": round(secs / max(1, len(records)), 1), **m}
            rows.append(row)
            dump += [{"domain": path.stem, "narrowing": row["narrowing"], "record": r} for r in records]
            print(json.dumps(row), flush=True)
    table = ["| domain | narrowing | accepted / attempts | shape kept | numbers kept | era kept | s / record |",
             "|---|---|---|---|---|---|---|"]
    fmt = lambda x: "—" if x is None else f"{x:.0%}"  # noqa: E731
    for r in rows:
        table.append(f"| {r['domain']} | {r['narrowing']} | {r['accepted']} / {r['attempts']} | {fmt(r['shape'])} | "
                     f"{fmt(r['numbers'])} | {fmt(r['era'])} | {r['s_per_record']} |")
    text = "\n".join(table)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.records:
        Path(args.records).write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dump))


if __name__ == "__main__":
    sys.exit(main())
