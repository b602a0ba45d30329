"""The documents technique's two prompt forms on the bundled model, one recipe, one form per run.

    flock /tmp/synthloom-model.lock .venv/bin/python benchmarks/documents_form.py \
        benchmarks/data/documents_form/lostpet.yaml document /tmp/pet_doc [SEED]

Prints accepted, calls, wall, the load average, the share of labelled values every written document kept
(accepted and rejected), and each accepted document with its label, for reading (docs/benchmarks_junk.md)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from synthloom import RunStore, load_recipe, run_recipe
from synthloom.quality.rules import leaves, missing_values


def main(recipe_path: str, form: str, out: str, seed: str = "0") -> None:
    recipe = load_recipe(Path(recipe_path), {"generate.prompt_form": form, "engine.seed": int(seed)})
    load0 = os.getloadavg()[0]
    summary = run_recipe(recipe, base_dir=Path(recipe_path).parent, output=Path(out) / "data.jsonl")
    load1 = os.getloadavg()[0]
    with RunStore(summary.run_dir / "store.sqlite") as store:
        accepted, rejected = store.accepted_records(), list(store.rejections())
    written = [(r.data["label"], r.data["document"]) for r in accepted]
    written += [(r.data["label"], r.data["document"]) for r in rejected if r.data and "document" in r.data]
    values = sum(len(list(leaves(lab))) for lab, _ in written)
    lost = sum(len(missing_values(lab, doc)) for lab, doc in written)
    reasons: dict[str, int] = {}
    for r in rejected:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    print(json.dumps({"recipe": recipe_path, "form": form, "seed": int(seed), "accepted": summary.accepted, "calls": summary.calls,
                      "cache_hits": summary.cache_hits, "wall_s": round(summary.wall_s, 1),
                      "documents_written": len(written), "values_kept": f"{values - lost}/{values}",
                      "rejections": reasons, "load": [round(load0, 2), round(load1, 2)]}))
    for r in accepted:
        print("----", json.dumps(r.data["label"], ensure_ascii=False))
        print(r.data["document"])


if __name__ == "__main__":
    main(*sys.argv[1:5])
