"""A dedup index past its memory size moves to a temporary SQLite file and answers the same."""
from __future__ import annotations

import random

import pytest

from synthloom.quality.dedup import DedupIndex

WORDS = "river stone lamp quiet orbit maple copper window harbor violet thunder canvas ribbon falcon".split()


def texts(n: int) -> list[str]:
    rng = random.Random(3)
    base = [" ".join(rng.choices(WORDS, k=12)) for _ in range(n)]
    out = []
    for i, t in enumerate(base):
        out.append(t)
        if i % 7 == 0:
            out.append(t.upper() + "!")          # an exact duplicate after normalization
        if i % 11 == 0:
            out.append(t + " " + WORDS[i % 14])  # a near duplicate
    return out


def verdicts(index: DedupIndex, items: list[str]) -> list[tuple[int, str] | None]:
    out = []
    for t in items:
        hit = index.find(t)
        out.append(None if hit is None else (hit.key, hit.text))
        if hit is None:
            index.add(t)
    return out


@pytest.mark.parametrize("method", ["exact", "minhash"])
def test_spilled_index_gives_the_memory_index_verdicts(method, monkeypatch):
    items = texts(300)
    in_memory = verdicts(DedupIndex(method, backend="numpy") if method == "minhash" else DedupIndex(method), items)
    monkeypatch.setattr(DedupIndex, "spill_at", 25)
    small = DedupIndex(method, backend="numpy") if method == "minhash" else DedupIndex(method)
    spilled = verdicts(small, items)
    assert small.spilled and len(small) > 25
    assert spilled == in_memory
    dups = [v for v in in_memory if v is not None]
    assert len(dups) >= 300 // 7  # the duplicates were found, naming the text they repeat
    assert all(isinstance(t, str) and t for _, t in dups)


def test_spilled_exact_keys_are_found_in_the_table_and_pending(monkeypatch):
    """Exact keys reach the spilled index's file in sorted batches; the ones not written yet answer too,
    and a text indexed twice names its first position either way."""
    from synthloom.quality.dedup import _SqliteTable

    items = texts(300)
    in_memory = verdicts(DedupIndex("exact"), items)
    monkeypatch.setattr(DedupIndex, "spill_at", 25)
    monkeypatch.setattr(_SqliteTable, "flush_at", 8)
    index = DedupIndex("exact")
    assert verdicts(index, items) == in_memory
    table = index._table
    written = table.db.execute("SELECT COUNT(*) FROM k").fetchone()[0]
    assert 25 <= written and written + len(table.pending_k) == len({t for t, v in zip(items, in_memory) if v is None})
    first = index.find(items[0])
    index.add(items[0].upper())  # the same exact key again (a resumed store can hold repeats)
    for t in ("filler one", "filler two") * 20 + tuple(f"filler {i}" for i in range(40)):
        index.add(t)
    assert index.find(items[0]).key == first.key == 0
    assert index.find("FILLER ONE").key == index.find("filler one").key == len(index) - 80
