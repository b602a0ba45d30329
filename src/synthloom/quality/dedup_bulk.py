"""Whole-file dedup (`dedup_texts`): the same decisions as the gate, organised for speed on large files.

MinHash: n-gram hashing vectorised in numpy, signatures in Rust (rensa) where
installed, banding by sorting all band hashes at once, then one sequential
pass that confirms each candidate with the exact Jaccard similarity.
Semantic: one matrix product per chunk against everything kept so far.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from .minhash import best_match, make_signer
from .text import exact_key, normalize, shingles, shingles_of_normalized


def semantic_bulk(texts: Sequence[str], threshold: float, *, reference: Sequence[str], embedder: Any,
                   batch: int) -> list[tuple[str, int, float] | None]:
    """Whole-file semantic dedup: one matrix product per chunk against everything kept so far."""
    if embedder is None:
        from .embeddings import make_embedder

        embedder = make_embedder()
    exact: dict[bytes, tuple[str, int]] = {}
    ref_vecs = embedder.embed(list(reference)) if reference else None
    for j, t in enumerate(reference):
        exact.setdefault(exact_key(t), ("reference", j))
    kept_vecs: np.ndarray | None = None
    kept_pos: list[int] = []
    out: list[tuple[str, int, float] | None] = []
    for start in range(0, len(texts), batch):
        chunk = list(texts[start : start + batch])
        vecs = embedder.embed(chunk)
        prior = kept_vecs @ vecs.T if kept_vecs is not None and len(kept_vecs) else None
        refs = ref_vecs @ vecs.T if ref_vecs is not None and len(ref_vecs) else None
        new: list[int] = []  # chunk rows kept so far
        for i, text in enumerate(chunk):
            twin = exact.get(exact_key(text))
            if twin is not None:
                out.append((twin[0], twin[1], 1.0))
                continue
            hit: tuple[str, int, float] | None = None
            if refs is not None:
                j = int(np.argmax(refs[:, i]))
                if refs[j, i] >= threshold:
                    hit = ("reference", j, float(refs[j, i]))
            if hit is None and prior is not None:
                j = int(np.argmax(prior[:, i]))
                if prior[j, i] >= threshold:
                    hit = ("kept", kept_pos[j], float(prior[j, i]))
            if hit is None and new:
                sims = vecs[new] @ vecs[i]
                j = int(np.argmax(sims))
                if sims[j] >= threshold:
                    hit = ("kept", start + new[j], float(sims[j]))
            if hit is None:
                new.append(i)
                exact.setdefault(exact_key(text), ("kept", start + i))
            out.append(hit)
        if new:
            kept_vecs = vecs[new] if kept_vecs is None else np.vstack([kept_vecs, vecs[new]])
            kept_pos.extend(start + i for i in new)
    return out


def minhash_bulk(texts: Sequence[str], threshold: float, *, reference: Sequence[str], ngram: int, unit: str,
                  num_perm: int, backend: str, batch: int) -> list[tuple[str, int, float] | None]:
    """Whole-file near-dedup: vectorised banding over all signatures, then exact Jaccard on candidates.

    Reference texts go first in one combined list, so a text can match them like any earlier text.
    Memory stays near the texts themselves: signatures are reduced to one hash per band
    as they are made, and shingle sets are rebuilt only for the candidates.
    """
    from .minhash import band_hashes, candidate_pairs, flat_char_ngram_hashes, lsh_params, rensa_flat_signatures

    items = list(reference) + list(texts)
    n_ref = len(reference)
    signer = make_signer(backend, num_perm)
    flat_path = unit == "char" and signer.name == "rensa"  # n-grams hashed in numpy, signed in Rust
    bands, rows = lsh_params(round(threshold, 3), num_perm)
    exact: dict[bytes, int] = {}
    first_of: list[int] = []  # -1, or the earlier item this one is identical to (normalized)
    normalized: list[str] = []
    hashes = np.empty((len(items), bands), dtype=np.uint64)
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        todo, norms = [], []
        for i, t in enumerate(chunk):
            lines = [normalize(line) for line in t.splitlines()]
            k = hashlib.blake2b("\n".join(lines).encode("utf-8"), digest_size=16).digest()
            prev = exact.setdefault(k, start + i)
            first_of.append(-1 if prev == start + i else prev)
            norm = " ".join(x for x in lines if x)
            normalized.append(norm)
            if prev == start + i:
                todo.append(start + i)
                norms.append(norm)
        # identical texts get a unique dummy hash: they are matched through their twin, never as candidates
        hashes[start : start + len(chunk)] = (np.uint64(2**63) + np.arange(start, start + len(chunk), dtype=np.uint64))[:, None]
        if not todo:
            continue
        if flat_path:
            flat, offsets = flat_char_ngram_hashes(norms, ngram)
            sigs = rensa_flat_signatures(flat, offsets, num_perm, signer.seed)
        else:
            sigs = signer.sign_many([shingles(t, ngram, unit) for t in norms])
        hashes[np.asarray(todo)] = band_hashes(sigs, bands, rows)
    del exact
    cands = candidate_pairs(hashes)
    del hashes
    kept = np.zeros(len(items), dtype=bool)
    kept[:n_ref] = True
    cache: dict[int, set] = {}
    if flat_path and cands:
        # n-gram hash sets of the items in candidate pairs, made in bulk: the exact Jaccard of 64-bit
        # n-gram hashes (a collision between two different 5-grams is a ~1e-19 event per pair)
        involved = np.unique(np.concatenate([np.fromiter(cands, dtype=np.int64, count=len(cands)),
                                             *cands.values()]))
        where = {int(j): k for k, j in enumerate(involved)}
        parts, offs = [], [0]
        for b in range(0, len(involved), batch):
            fl, of = flat_char_ngram_hashes([normalized[int(j)] for j in involved[b : b + batch]], ngram)
            parts.append(fl)
            offs.extend((of[1:].astype(np.int64) + offs[-1]).tolist())
        grams = np.concatenate(parts)

        def sh(j: int) -> set:
            s = cache.get(j)
            if s is None:
                k = where[j]
                s = cache[j] = set(grams[offs[k] : offs[k + 1]].tolist())
                if len(cache) > 20_000:  # ~8 KB a set: keep the cache small, rebuilding a set is cheap
                    cache.clear()
            return s
    else:
        def sh(j: int) -> set:
            s = cache.get(j)
            if s is None:
                s = cache[j] = shingles_of_normalized(normalized[j], ngram, unit)
                if len(cache) > 20_000:
                    cache.clear()
            return s

    out: list[tuple[str, int, float] | None] = []
    origin: dict[int, tuple[int, float]] = {}  # dropped item -> (the item it repeats, similarity)
    for pos in range(n_ref, len(items)):
        hit: tuple[int, float] | None = None
        twin = first_of[pos]
        if twin != -1:
            # identical (normalized) to an earlier item: that item, or what that item repeated
            hit = (twin, 1.0) if kept[twin] else origin.get(twin)
        else:
            c = cands.get(pos)
            if c is not None:
                live = [int(j) for j in c if kept[j]]
                refs = [j for j in live if j < n_ref]
                # a reference match wins over a match with an earlier kept text
                found = best_match(refs, sh, sh(pos), threshold, first=True) if refs else None
                if found is None and live:
                    found = best_match(live, sh, sh(pos), threshold, first=True)
                hit = found
        if hit is None:
            kept[pos] = True
            out.append(None)
            continue
        origin[pos] = hit
        if hit[0] < n_ref:
            out.append(("reference", hit[0], hit[1]))
        else:
            out.append(("kept", hit[0] - n_ref, hit[1]))
    return out
