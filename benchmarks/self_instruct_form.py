"""Self-Instruct's two prompt forms for the new instruction on the bundled model, one recipe, one form per run.

    flock /tmp/synthloom-model.lock .venv/bin/python benchmarks/self_instruct_form.py \
        examples/self-instruct.yaml document /tmp/si_doc [SEED] [COUNT]

Prints accepted, calls, wall, the load average, the rejection reasons, and every accepted record
(instruction, input, output) and every instruction a filter rejected, for reading (docs/benchmarks_junk.md)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from synthloom import RunStore, load_recipe, run_recipe


def main(recipe_path: str, form: str, out: str, seed: str = "0", count: str = "20") -> None:
    recipe = load_recipe(Path(recipe_path), {"generate.prompt_form": form, "engine.seed": int(seed),
                                             "count": int(count)})
    load0 = os.getloadavg()[0]
    summary = run_recipe(recipe, base_dir=Path(recipe_path).parent, output=Path(out) / "data.jsonl")
    load1 = os.getloadavg()[0]
    with RunStore(summary.run_dir / "store.sqlite") as store:
        accepted, rejected = store.accepted_records(), list(store.rejections())
    reasons: dict[str, int] = {}
    for r in rejected:
        reasons[f"{r.stage}:{r.reason}"] = reasons.get(f"{r.stage}:{r.reason}", 0) + 1
    print(json.dumps({"recipe": recipe_path, "form": form, "seed": int(seed), "accepted": summary.accepted,
                      "tasks": len({r.data["instruction"] for r in accepted}), "calls": summary.calls,
                      "cache_hits": summary.cache_hits, "wall_s": round(summary.wall_s, 1), "rejections": reasons,
                      "load": [round(load0, 2), round(load1, 2)]}))
    for r in accepted:
        print("----", r.meta.get("prompt_form"), json.dumps(r.data, ensure_ascii=False))
    for r in rejected:
        if r.data and "instruction" in r.data and "input" not in r.data:
            print("-- rejected", r.reason, json.dumps(r.data["instruction"], ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:6])
