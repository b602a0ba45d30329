"""Run every `synthloom ...` command in README.md (and every recipe in examples/) on the bundled model
and record each one's exit code, yield (accepted / attempts) and wall time.

    python benchmarks/readme_commands.py                 # at the README's -n (hours on 2 cores)
    python benchmarks/readme_commands.py --n 5           # every -n set to 5
    python benchmarks/readme_commands.py --only documents,qa --md docs/benchmarks_readme_commands.md

Runs in a fresh temporary folder holding a copy of examples/, as a new clone would.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.readme_commands import (example_recipes, prepare, readme_commands, run, run_dir_of, with_count,  # noqa: E402
                                     workdir, yield_of)  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="set every -n to this (default: as written)")
    ap.add_argument("--only", default="", help="comma-separated substrings of the commands to run")
    ap.add_argument("--recipes", action="store_true", help="also run every recipe in examples/")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per command here")
    args = ap.parse_args()
    commands = readme_commands() + (example_recipes() if args.recipes else [])
    if args.only:
        commands = [c for c in commands if any(s in c.line for s in args.only.split(","))]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = workdir(Path(tmp))
        print("| command (as in the README) | ran with | exit | accepted / attempts | yield | wall |")
        print("|---|---|---|---|---|---|")
        for c in commands:
            argv = with_count(c.argv, args.n)
            prepare(argv, cwd)
            code, wall, tail = run(argv, cwd, timeout=args.timeout)
            got = yield_of(run_dir_of(argv, cwd))
            acc = f"{got[0]} / {got[1]}" if got else "-"
            yld = f"{got[0] / got[1]:.2f}" if got and got[1] else "-"
            ran = "as written" if argv == c.argv else " ".join(a for a in argv if a not in c.argv or a.isdigit())
            print(f"| `{c.line}` | {ran} | {code} | {acc} | {yld} | {wall:.0f} s |", flush=True)
            if args.json:
                with open(args.json, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"command": c.line, "argv": argv, "exit": code, "accepted": got[0] if got else None,
                                         "attempts": got[1] if got else None, "wall_s": round(wall, 1),
                                         "tail": tail[-400:] if code else ""}) + "\n")


if __name__ == "__main__":
    main()
