"""How much of each accepted document is an example's text, and which records carry a value that does not read
as its field, for runs of benchmarks/documents_form.py (docs/benchmarks_junk.md, "documents").

    .venv/bin/python benchmarks/documents_copy.py benchmarks/data/documents_form/pottery.yaml RUN_OUT [RUN_OUT ...]

Per run: accepted, the copy share of each accepted document against its nearest example (both with their
values as `{field}` slots: the share of the document's words that are that example's words in order, or of
the example's words it repeats, whichever is larger; `generators.documents.copy_share`), how many are at
0.9 or more (the example's text with its values swapped), the mean, and the labels `quality.value_fit` flags.
Post hoc, with this tree's code, so runs made on an older tree are measured the same way."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from synthloom import RunStore
from synthloom.generators.documents import COPY_SHARE, copy_share, slotted
from synthloom.quality.rules import missing_values
from synthloom.quality.value_fit import ValueFit


def main(recipe_path: str, *runs: str) -> None:
    g = yaml.safe_load(Path(recipe_path).read_text())["generate"]
    shown = [slotted(ex["label"], str(ex["document"]).strip()) for ex in g["examples"]]
    fit = ValueFit(g["schema"], [ex["label"] for ex in g["examples"]])
    for run in runs:
        (store_path,) = Path(run).glob("*.run/store.sqlite")
        with RunStore(store_path) as store:
            accepted = store.accepted_records()
        shares = [copy_share(slotted(r.data["label"], r.data["document"]), shown) for r in accepted]
        flagged = [(r.data["label"], fit.problem(r.data["label"])) for r in accepted if fit.problem(r.data["label"])]
        lost = [r.data["label"] for r in accepted if missing_values(r.data["label"], r.data["document"])]
        print(json.dumps({"run": run, "accepted": len(accepted), "copies": sum(s >= COPY_SHARE for s in shares),
                          "mean_copy_share": round(sum(shares) / len(shares), 2) if shares else None,
                          "shares": [round(s, 2) for s in shares], "value_flagged": len(flagged),
                          "value_missing_now": len(lost)}))
        for label, problem in flagged:
            print("   value:", problem)


if __name__ == "__main__":
    main(*sys.argv[1:])
