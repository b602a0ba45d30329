"""Semantic dedup keeps its vectors in one memory block and a temporary file: the same verdicts as
one matrix of every vector, in memory that does not grow with the number of records."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from synthloom.quality.dedup import DedupIndex
from synthloom.quality.dedup_vectors import VectorStore
from synthloom.quality.embeddings import HashingEmbedder
from tests.quality.test_dedup_spill import texts


def verdicts(index: DedupIndex, items: list[str]) -> list[tuple[int, float, str] | None]:
    out = []
    for t in items:
        hit = index.find(t)
        out.append(None if hit is None else (hit.key, round(hit.similarity, 5), hit.text))
        if hit is None:
            index.add(t)
    return out


def test_vectors_on_disk_give_the_in_memory_verdicts(monkeypatch):
    items = texts(300)
    embedder = HashingEmbedder()
    in_memory = verdicts(DedupIndex("semantic", 0.9, embedder=embedder), items)
    monkeypatch.setattr(VectorStore, "block_bytes", 7 * 4 * 1024)  # 7 vectors of 1,024 dims a block
    monkeypatch.setattr(DedupIndex, "spill_at", 25)
    small = DedupIndex("semantic", 0.9, embedder=embedder)
    on_disk = verdicts(small, items)
    assert small._vecs.n_file > 200 and small.spilled  # vectors and texts both past memory
    assert on_disk == in_memory
    kinds = [v for v in in_memory if v is not None]
    assert len(kinds) >= 300 // 7 and any(sim < 0.999 for _, sim, _ in kinds)  # exact and near repeats found


def test_the_best_match_is_the_first_of_equals_across_blocks(monkeypatch):
    monkeypatch.setattr(VectorStore, "block_bytes", 3 * 4 * 8)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(50, 8)).astype(np.float32)
    vecs[41] = vecs[7]  # the same vector in two blocks: the first one wins, as np.argmax over all of them
    store = VectorStore()
    for v in vecs:
        store.add(v)
    for q in (vecs[7], vecs[30], rng.normal(size=8).astype(np.float32)):
        j, sim = store.best(q)
        sims = vecs @ q
        assert j == int(np.argmax(sims)) and sim == pytest.approx(sims[j], rel=1e-6)  # a block may round its last bit
    assert VectorStore().best(vecs[0]) == (-1, -np.inf)


def test_memory_does_not_grow_with_the_number_of_vectors(monkeypatch):
    monkeypatch.setattr(VectorStore, "block_bytes", 64 * 4 * 256)  # 256 vectors of 64 dims a block
    rng = np.random.default_rng(1)
    peaks = {}
    for n in (2_000, 20_000):
        vecs = rng.normal(size=(n, 64)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        store = VectorStore()
        tracemalloc.start()
        for v in vecs:
            store.add(v)
        j, _ = store.best(vecs[n // 2])
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert j == n // 2 and len(store) == n
        store.close()
    # every vector in memory: 5 MB at 20k against 0.5 MB at 2k; two blocks of 64 KB for both here
    assert peaks[20_000] < 1.5 * peaks[2_000], peaks
