"""Seeded train / validation / test splits that never split near-duplicates.

Rows are first grouped: two rows whose prompt texts (instruction + input) have
ROUGE-L F above `near_duplicate` (or are equal after normalisation) land in one
group, transitively. Groups, not rows, are then dealt to splits, so a near-copy
of a test question can never sit in train. With `stratify`, groups are dealt
within each value of that field (a group's value is its first row's), so every
split keeps the field's proportions as closely as whole groups allow.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Sequence

from ..errors import UsageError
from ..quality.rouge import RougePool

SPLIT_NAMES = ("train", "validation", "test")


def parse_ratios(text: str | Sequence[float]) -> dict[str, float]:
    """'0.8,0.1,0.1' -> {train: .8, validation: .1, test: .1}; one value: train only; two: train, validation."""
    try:
        vals = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise UsageError(f"--split {text!r}: give fractions separated by commas, e.g. 0.8,0.1,0.1") from None
    if not 1 <= len(vals) <= 3 or any(v < 0 for v in vals):
        raise UsageError(f"--split {text!r}: give 1 to 3 non-negative fractions (train,validation,test), e.g. 0.8,0.1,0.1")
    if abs(sum(vals) - 1.0) > 1e-6:
        raise UsageError(f"--split {text!r}: the fractions add up to {sum(vals):g}, they must add up to 1")
    return {name: v for name, v in zip(SPLIT_NAMES, vals) if v > 0}


def _default_text(row: dict[str, Any]) -> str:
    if not isinstance(row, dict):  # an array or string record: its JSON
        from ..quality.text import record_text

        return record_text(row)
    # text: labelled rows; request: tool-calling rows
    inst = row.get("instruction", row.get("prompt", row.get("question", row.get("text", row.get("request", "")))))
    if inst == "" and "messages" in row:
        inst = " ".join(m.get("content", "") for m in row["messages"] if m.get("role") == "user")
    return f"{inst} {row.get('input', '') or ''}".strip()


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def near_duplicate_groups(texts: Sequence[str], threshold: float = 0.7) -> list[list[int]]:
    """Indices grouped by ROUGE-L F > threshold (transitively), in first-seen order."""
    uf = _UnionFind(len(texts))
    pool = RougePool()
    exact: dict[str, int] = {}
    for i, t in enumerate(texts):
        norm = " ".join(t.lower().split())
        if norm in exact:
            uf.union(i, exact[norm])
        else:
            exact[norm] = i
        for _score, j in pool.all_above(t, threshold):
            uf.union(i, j)
        pool.add(t)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(uf.find(i), []).append(i)
    return list(groups.values())


def split_rows(
    rows: Sequence[dict[str, Any]],
    ratios: dict[str, float] | str = "0.8,0.1,0.1",
    seed: int = 0,
    stratify: str | Sequence[Any] | None = None,
    near_duplicate: float = 0.7,
    text_of: Callable[[dict[str, Any]], str] = _default_text,
) -> dict[str, list[dict[str, Any]]]:
    """Deal rows to splits; returns {split name: rows} with every named split present (maybe empty).

    `stratify` is a field name, or a sequence with one stratum value per row
    (e.g. a lineage value such as the evolution round).
    """
    if isinstance(ratios, str):
        ratios = parse_ratios(ratios)
    if isinstance(stratify, str):
        if rows and not any(stratify in r for r in rows):
            raise UsageError(f"--stratify {stratify!r}: no record has this field (fields: {', '.join(sorted(rows[0]))})")
        values = [r.get(stratify) for r in rows]
    elif stratify is not None:
        values = list(stratify)
        if len(values) != len(rows):
            raise ValueError("stratify: one value per row is needed")
    else:
        values = None
    groups = near_duplicate_groups([text_of(r) for r in rows], near_duplicate) if near_duplicate < 1 else [[i] for i in range(len(rows))]
    strata: dict[str, list[list[int]]] = {}
    for g in groups:
        key = repr(values[g[0]]) if values is not None else ""
        strata.setdefault(key, []).append(g)
    rng = random.Random(seed)
    names = list(ratios)
    assigned: dict[str, list[int]] = {n: [] for n in names}
    for key in sorted(strata):
        gs = strata[key]
        rng.shuffle(gs)
        total = sum(len(g) for g in gs)
        target = {n: ratios[n] * total for n in names}
        have = {n: 0 for n in names}
        # biggest groups first so they cannot overshoot a small split at the end
        for g in sorted(gs, key=len, reverse=True):
            n = max(names, key=lambda s: (target[s] - have[s], ratios[s]))
            assigned[n].extend(g)
            have[n] += len(g)
    return {n: [rows[i] for i in sorted(idx)] for n, idx in assigned.items()}
