"""Yield of `technique: tools` per scenario kind, and where the rest fell out (docs/techniques/tools.md).

    synthloom run examples/tools.yaml -n 8 -o out/tools
    python benchmarks/tools_yield.py out/tools

Prints, per scenario kind: slots tried, records accepted, and the rejections by reason (format, execution,
semantics); then the execution failures with their messages.
"""
from __future__ import annotations

import sys
from collections import Counter, defaultdict

from synthloom import RunStore


def main(run_dir: str) -> None:
    with RunStore(f"{run_dir}/store.sqlite") as store:
        accepted = store.accepted_records()
        rejected = list(store.rejections())
    kinds = ("single", "parallel", "multi_step", "no_tool")
    ok = Counter(r.meta.get("scenario") for r in accepted)
    why: dict[str, Counter] = defaultdict(Counter)
    for r in rejected:
        why[r.meta.get("scenario")][r.reason] += 1
    print("| scenario | tried | accepted | yield | rejections |")
    print("|---|---:|---:|---:|---|")
    for k in kinds:
        tried = ok[k] + sum(why[k].values())
        if tried:
            reasons = ", ".join(f"{r} {n}" for r, n in why[k].most_common())
            print(f"| {k} | {tried} | {ok[k]} | {ok[k] / tried:.2f} | {reasons} |")
    total = len(accepted) + len(rejected)
    print(f"| all | {total} | {len(accepted)} | {len(accepted) / max(1, total):.2f} | |")
    errors = [r for r in rejected if r.reason.startswith("execution:")]
    if errors:
        print("\nexecution failures:")
        for r in errors:
            print(f"- {r.reason}: {r.detail}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/tools")
