"""A run store of n instruction records written with the store API (no model, no engine): what exports read."""
from __future__ import annotations

import random
from pathlib import Path

from synthloom.records import Record
from synthloom.runs import rundir

WORDS = ("river mountain ledger invoice orbit violin harvest copper lantern meadow quartz signal harbor "
         "maple tundra cipher falcon glacier pepper saddle tunnel velvet walnut yarrow zephyr amber basil "
         "cedar dune ember fjord grove hazel iris jasper kelp lotus marble nectar").split()


def instruction(rng: random.Random, i: int) -> str:
    return f"Task {i}: " + " ".join(rng.choice(WORDS) + rng.choice(WORDS) for _ in range(12))  # 1,600 words


def make_store(folder: Path, n: int, *, seed: int = 0, near_copies: int = 0, labels: tuple[str, ...] = ("a", "b")) -> Path:
    """n records {instruction, input, output, label} with lineage {round}; every `near_copies`-th record
    (when > 0) repeats an earlier record's instruction with one word added (a near duplicate)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    run_id = "run-1"
    made: list[str] = []
    with rundir.create_store(folder) as store:
        store.begin_run(run_id, "export-test", {"name": "export-test", "count": n}, {})
        batch = []
        for i in range(n):
            if near_copies and i % near_copies == near_copies - 1 and made:
                inst = rng.choice(made) + " please"
            else:
                inst = instruction(rng, i)
            made.append(inst)
            data = {"instruction": inst, "input": "" if i % 3 else f"context {i}", "output": f"answer {i}",
                    "label": labels[i % len(labels)]}
            batch.append((i, [Record(data=data, meta={"round": i % 3, "slot": i})], []))
            if len(batch) == 500:
                store.commit_batch(run_id, [], batch, {})
                batch = []
        if batch:
            store.commit_batch(run_id, [], batch, {})
        store.end_run(run_id, "done", 1.0)
    rundir.write_manifest(folder, {"run_id": run_id, "name": "export-test"})
    return folder
