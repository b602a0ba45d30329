"""`synthloom sample`: a random sample of accepted records, stratified, as JSONL and Markdown.

Strata: the values of one lineage attribute (`--by tone`) or data field; by
default the label field of a label gate, else the first sampled attribute.
Each stratum gets a share of the sample proportional to its size, and at least
one record when the sample is large enough, so rare strata are seen too.
"""
from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from ..records import Record, fields_of, kind_of
from ..userfiles import ensure_folder


def stratum_of(rec: Record, by: str | None) -> str:
    if not by:
        return "all"
    attrs = rec.meta.get("attributes")
    value = attrs.get(by) if isinstance(attrs, dict) and by in attrs else fields_of(rec.data).get(by)
    return "—" if value is None else value if isinstance(value, str) else json.dumps(value)


def default_stratum(records: Sequence[Record], recipe: dict[str, Any]) -> str | None:
    for g in recipe.get("quality") or []:
        if g.get("gate") == "label":
            return g.get("label_field", "label")
    for r in records:
        attrs = r.meta.get("attributes")
        if isinstance(attrs, dict) and attrs:
            return next(iter(attrs))
    return None


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation (largest remainders), at least one per stratum when n allows."""
    total = sum(sizes.values())
    n = min(n, total)
    if n == 0:
        return {k: 0 for k in sizes}
    quota = {k: n * s / total for k, s in sizes.items()}
    alloc = {k: min(sizes[k], int(math.floor(q))) for k, q in quota.items()}
    if n >= len(sizes):
        for k in sizes:
            if alloc[k] == 0 and sizes[k] > 0:
                alloc[k] = 1
    while sum(alloc.values()) > n:  # the minimum of one pushed us over: take from the largest
        k = max(alloc, key=lambda x: (alloc[x], x))
        alloc[k] -= 1
    for k in sorted(quota, key=lambda x: quota[x] - math.floor(quota[x]), reverse=True) * 2:
        if sum(alloc.values()) >= n:
            break
        if alloc[k] < sizes[k]:
            alloc[k] += 1
    while sum(alloc.values()) < n:
        k = max((x for x in sizes if alloc[x] < sizes[x]), key=lambda x: sizes[x] - alloc[x])
        alloc[k] += 1
    return alloc


def stratified_sample(records: Sequence[Record], n: int, by: str | None = None, seed: int = 0) -> list[tuple[str, Record]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[stratum_of(r, by)].append(r)
    alloc = allocate({k: len(v) for k, v in groups.items()}, n)
    rng = random.Random(seed)
    picked = []
    for k in sorted(groups):
        picked += [(k, r) for r in rng.sample(groups[k], alloc[k])]
    rng.shuffle(picked)  # reviewers should not see the strata in blocks
    return picked


def _md_value(v: Any) -> str:
    if isinstance(v, str):
        return v.replace("\n", "\n  > ")
    return json.dumps(v, ensure_ascii=False)


POOL = 50_000  # records read to draw a spot-check sample from


def write_sample(run_dir: str | Path, n: int = 50, *, by: str | None = None, seed: int = 0,
                 out: str | Path | None = None) -> dict[str, Any]:
    """Write `sample.jsonl` and `sample.md` (default in RUN_DIR/review/). Returns paths and strata."""
    from ..runs import open_store
    from ..userfiles import atomic_path, readable

    run_dir = Path(run_dir)
    with open_store(run_dir) as store:
        info = store.run_info()
        # a run of any size: strata are drawn from a uniform sample of at most POOL records (all of them in a
        # smaller run), as the report reads it
        records = store.sample_accepted(info["run_id"], POOL, seed)
        population = store.accepted_count(info["run_id"])
    by = by or default_stratum(records, info.get("recipe") or {})
    sample = stratified_sample(records, n, by, seed)
    out_dir = Path(out) if out else run_dir / "review"
    ensure_folder(out_dir, "review folder")
    rows = [{"n": i + 1, "id": r.id, "stratum": s, "verdict": None, "note": "", "data": r.data,
             "scores": r.meta.get("scores", {})} for i, (s, r) in enumerate(sample)]
    jsonl, md = out_dir / "sample.jsonl", out_dir / "sample.md"
    with atomic_path(jsonl) as tmp:
        tmp.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows), encoding="utf-8")
    lines = [f"# Spot-check: {info.get('name')} ({len(rows)} of {population} accepted records)", "",
             f"Stratified by `{by}`." if by else "Simple random sample.",
             "Mark each record: put an x in **accept** or **reject** (`[x]`), optionally add a note, then run",
             f"`synthloom review-import {md}`.", ""]
    for x in rows:
        lines += [f"## {x['n']}. `{x['id']}`" + (f" — {by}: {x['stratum']}" if by else ""), ""]
        if isinstance(x["data"], dict):
            lines += [f"- **{k}**: {_md_value(v)}" for k, v in x["data"].items()]
        else:  # an array or string record (a schema whose root is not an object): the value itself
            lines.append(f"- **value** ({kind_of(x['data'])}): {json.dumps(x['data'], ensure_ascii=False)}")
        if x["scores"]:
            lines.append(f"- _scores_: {json.dumps(x['scores'], ensure_ascii=False)}")
        lines += ["", "- [ ] accept", "- [ ] reject", "- note: ", ""]
    with atomic_path(md) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    readable(jsonl, md)
    strata: dict[str, int] = defaultdict(int)
    for s, _ in sample:
        strata[s] += 1
    return {"jsonl": jsonl, "markdown": md, "by": by, "strata": dict(strata), "sampled": len(rows),
            "population": population}
