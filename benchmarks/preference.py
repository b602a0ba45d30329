"""Preference pairs on the bundled model: pairs per minute, the share of prompts with a usable pair, judge/signal
agreement, and the pairs written out for reading (docs/benchmarks_preference.md).

    flock /tmp/synthloom-model.lock .venv/bin/python benchmarks/preference.py --count 20 --out /tmp/pref-bench

Runs examples/preference.yaml (its prompts, strategies, judge and signals) with `count` pairs, then reads the run's
store: wall time, model calls, pairs, the prompts tried and why the others gave no pair, the report's preference
section, and every pair with its responses' ratings and rationales in OUT/pairs.md.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--out", default="/tmp/pref-bench")
    ap.add_argument("--max-attempts", type=int, default=None)
    a = ap.parse_args()
    from synthloom.engine import RunStore, run_recipe
    from synthloom.engine.recipe_file import load_recipe
    from synthloom.export.report import build_report

    recipe = load_recipe(ROOT / "examples" / "preference.yaml")
    recipe = recipe.model_copy(update={"count": a.count, "engine": recipe.engine.model_copy(
        update={"max_attempts": a.max_attempts or 2 * a.count + 4})})
    out = Path(a.out)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    summary = run_recipe(recipe, output=out / "run", base_dir=ROOT / "examples")
    secs = time.perf_counter() - t0
    with RunStore(out / "run" / "store.sqlite") as store:
        recs = store.accepted_records()
    rep = build_report(out / "run")["preference"]
    result = {"count": a.count, "pairs": len(recs), "seconds": round(secs, 1),
              "pairs_per_minute": round(len(recs) / secs * 60, 2), "load_before": load0, "load_after": os.getloadavg(),
              "summary": {k: v for k, v in vars(summary).items() if isinstance(v, (int, float, str))},
              "report": rep}
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    lines = []
    for i, r in enumerate(recs, 1):
        m = r.meta
        lines += [f"## {i}. {r.data['prompt']}", "", f"margin {m['margin']:.3f}; chosen {m['chosen_strategy']}, rejected "
                  f"{m['rejected_strategy']}; agreement {m.get('agreement')}", ""]
        for e in m["responses"]:
            tag = "CHOSEN" if e["strategy"] == m["chosen_strategy"] else "REJECTED" if e["strategy"] == m["rejected_strategy"] else "-"
            ratings = {k: v["rating"] for k, v in (e.get("ratings") or {}).items()}
            lines += [f"- **{tag} {e['strategy']}** score {e.get('score')} ratings {ratings} signals {e.get('signals')}",
                      f"  - text: {e['text']!r}",
                      f"  - rationales: {[v['rationale'] for v in (e.get('ratings') or {}).values()]}"]
        lines.append("")
    (out / "pairs.md").write_text("\n".join(lines))
    print(json.dumps({k: v for k, v in result.items() if k != "report"}, default=str))
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
