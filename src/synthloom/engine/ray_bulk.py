"""`synthloom dedup FILE --executor ray`: whole-file exact and MinHash dedup on Ray Data.

The same decisions as `quality.dedup_bulk` (keep the first of each group; a near
duplicate is confirmed with the exact Jaccard of its shingles), with the work
spread over the cluster:

1. `map_batches` over shards of the file: normalize each record's text, hash it
   (exact key) and, for MinHash, sign it and reduce the signature to one hash
   per LSH band.
2. The band hashes are exploded to (band, hash, line) rows and grouped by a
   partition of the bucket hash (a shuffle), so the records of one bucket meet
   on one node, wherever their shards were; each partition yields its
   candidate pairs, vectorised (each record with up to 8 earlier members of
   its bucket, as on one machine).
3. `map_batches` over the candidate pairs: the exact Jaccard of each pair.
4. The driver walks the file order once over the confirmed pairs to decide what
   is kept: the only sequential step, and it touches only ints.

The driver holds the lines (it writes the output) and one exact key per record.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from ..quality.text import normalize

MAX_BACK = 8  # earlier bucket members a record is compared with, per band (minhash.candidate_pairs)


def _key_and_norm(text: str) -> tuple[bytes, str]:
    lines = [normalize(line) for line in text.splitlines()]
    key = hashlib.blake2b("\n".join(lines).encode("utf-8"), digest_size=16).digest()
    return key, " ".join(x for x in lines if x)


def _sign(batch: dict[str, np.ndarray], method: str, ngram: int, unit: str, num_perm: int, backend: str,
          bands: int, rows: int) -> dict[str, np.ndarray]:
    from ..quality.minhash import band_hashes, make_signer
    from ..quality.text import shingles_of_normalized

    keys, norms = zip(*(_key_and_norm(t) for t in batch["text"])) if len(batch["text"]) else ((), ())
    out = {"line": batch["line"], "key": np.array([k.hex() for k in keys], dtype=object)}
    if method == "minhash":
        signer = make_signer(backend, num_perm)
        if unit == "char" and signer.name == "rensa" and norms:  # the signatures the one-process path makes
            from ..quality.minhash import flat_char_ngram_hashes, rensa_flat_signatures

            flat, offsets = flat_char_ngram_hashes(list(norms), ngram)
            sigs = rensa_flat_signatures(flat, offsets, num_perm, signer.seed)
        else:
            sigs = signer.sign_many([shingles_of_normalized(t, ngram, unit) for t in norms])
        out["bands"] = band_hashes(sigs, bands, rows) if len(norms) else np.zeros((0, bands), np.uint64)
    return out


def _explode(batch: dict[str, np.ndarray], parts: int) -> dict[str, np.ndarray]:
    """(band, hash, line) rows, each tagged with the partition its bucket hashes to."""
    hashes = np.asarray(batch["bands"], dtype=np.uint64).reshape(len(batch["line"]), -1)
    n, b = hashes.shape
    flat = hashes.reshape(-1)
    return {"band": np.tile(np.arange(b, dtype=np.int64), n), "hash": flat,
            "line": np.repeat(np.asarray(batch["line"], dtype=np.int64), b),
            "part": (flat % np.uint64(parts)).astype(np.int64)}


def _bucket_pairs(group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All buckets of one partition at once: each record with up to MAX_BACK earlier members of its bucket."""
    band, h, line = (np.asarray(group[k]) for k in ("band", "hash", "line"))
    order = np.lexsort((line, h, band))  # by bucket, then by position in the file
    band, h, line = band[order], h[order], line[order]
    later, earlier = [], []
    for d in range(1, MAX_BACK + 1):
        if d >= len(line):
            break
        same = (band[d:] == band[:-d]) & (h[d:] == h[:-d])
        if not same.any():
            break
        later.append(line[d:][same])
        earlier.append(line[:-d][same])
    if not later:
        return {"later": np.zeros(0, np.int64), "earlier": np.zeros(0, np.int64)}
    return {"later": np.concatenate(later), "earlier": np.concatenate(earlier)}


def _jaccard(batch: dict[str, np.ndarray], ngram: int, unit: str) -> dict[str, np.ndarray]:
    from ..quality.text import shingles_of_normalized

    sims = np.empty(len(batch["a"]), dtype=np.float64)
    for i, (a, b) in enumerate(zip(batch["a"], batch["b"])):
        sa, sb = shingles_of_normalized(a, ngram, unit), shingles_of_normalized(b, ngram, unit)
        inter = len(sa & sb)
        union = len(sa) + len(sb) - inter
        sims[i] = inter / union if union else 1.0
    return {"later": batch["later"], "earlier": batch["earlier"], "sim": sims, "shared": batch["shared"]}


def ray_dedup_texts(texts: Sequence[str], method: str = "exact", threshold: float | None = None, *,
                    ngram: int = 5, unit: str = "char", num_perm: int = 128, backend: str = "auto",
                    shards: int | None = None) -> list[tuple[str, int, float] | None]:
    """`quality.dedup.dedup_texts` on Ray Data (exact and minhash): None to keep, or ("kept", index, similarity)."""
    from ..errors import UsageError
    from .ray_executor import import_ray

    if method not in ("exact", "minhash"):
        raise UsageError(f"--executor ray: --method {method} runs on one machine only; use exact or minhash")
    from ..config.ray_settings import RaySettings
    from .ray_executor import RayExecutor

    ray = import_ray()
    started = RayExecutor.connect(RaySettings())
    try:
        return _dedup(ray, texts, method, threshold, ngram, unit, num_perm, backend, shards)
    finally:
        if started:
            ray.shutdown()


def _dedup(ray: Any, texts: Sequence[str], method: str, threshold: float | None, ngram: int, unit: str,
           num_perm: int, backend: str, shards: int | None) -> list[tuple[str, int, float] | None]:
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its per-dataset INFO lines would fill the console
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True
    n = len(texts)
    shards = shards or max(2, int(ray.cluster_resources().get("CPU", 2)))
    from ..quality.minhash import lsh_params

    threshold = 1.0 if method == "exact" else (threshold if threshold is not None else 0.8)
    bands, rows = lsh_params(round(threshold, 3), num_perm) if method == "minhash" else (0, 0)
    ds = ray.data.from_items([{"line": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=shards)
    signed = ds.map_batches(_sign, batch_format="numpy", fn_kwargs=dict(
        method=method, ngram=ngram, unit=unit, num_perm=num_perm, backend=backend, bands=bands, rows=rows)).materialize()

    first_of = _first_occurrences(signed, n)
    cands = _near_pairs(ray, signed, texts, first_of, threshold, ngram, unit, shards) if method == "minhash" else {}
    return _decide(first_of, cands)


def _first_occurrences(signed: Any, n: int) -> Any:
    """For each line, the earlier line with the same exact key (normalized text), or -1."""
    first_of = np.full(n, -1, dtype=np.int64)
    seen: dict[str, int] = {}
    for batch in signed.select_columns(["line", "key"]).iter_batches(batch_format="numpy", batch_size=65536):
        for line, key in zip(batch["line"].tolist(), batch["key"]):
            prev = seen.setdefault(key, line)
            if prev != line:
                first_of[line] = prev
    return first_of


def _near_pairs(ray: Any, signed: Any, texts: Sequence[str], first_of: Any, threshold: float, ngram: int,
                unit: str, shards: int) -> dict[int, list[tuple[int, int, float]]]:
    """later line -> [(-shared bands, earlier line, Jaccard)] for the MinHash candidates at or above the threshold.
    Exact twins are matched through their first occurrence, never banded (as on one machine)."""
    n = len(texts)
    firsts = {int(i) for i in np.flatnonzero(first_of != -1)}
    cands: dict[int, list[tuple[int, int, float]]] = {}
    norms = [_key_and_norm(t)[1] for t in texts]
    keep = np.ones(n, dtype=bool)
    keep[list(firsts)] = False
    bucketed = signed.map_batches(lambda b: {k: v[keep[b["line"]]] for k, v in b.items()},
                                  batch_format="numpy") if firsts else signed
    # the shuffle: every bucket lands whole in one partition, wherever its records were read
    pairs = (bucketed.map_batches(_explode, batch_format="numpy", fn_kwargs={"parts": shards})
             .groupby("part").map_groups(_bucket_pairs, batch_format="numpy"))
    later_all, earlier_all = [], []
    for b in pairs.iter_batches(batch_format="numpy", batch_size=65536):
        later_all.append(b["later"])
        earlier_all.append(b["earlier"])
    if not later_all or not sum(len(x) for x in later_all):
        return cands
    key = np.concatenate(later_all) * n + np.concatenate(earlier_all)
    uniq, shared = np.unique(key, return_counts=True)
    later, earlier = uniq // n, uniq % n
    items = [{"later": int(a), "earlier": int(b), "shared": int(s), "a": norms[a], "b": norms[b]}
             for a, b, s in zip(later, earlier, shared)]
    scored = ray.data.from_items(items, override_num_blocks=shards).map_batches(
        _jaccard, batch_format="numpy", fn_kwargs=dict(ngram=ngram, unit=unit))
    for b in scored.iter_batches(batch_format="numpy", batch_size=65536):
        for lat, ear, sim, sh in zip(b["later"].tolist(), b["earlier"].tolist(), b["sim"].tolist(),
                                     b["shared"].tolist()):
            if sim >= threshold:
                cands.setdefault(lat, []).append((-sh, ear, sim))
    return cands


def _decide(first_of: Any, cands: dict[int, list[tuple[int, int, float]]]) -> list[tuple[str, int, float] | None]:
    """In line order: None (kept), or ("kept", the kept line it duplicates, similarity), as one process decides."""
    n = len(first_of)
    kept = np.zeros(n, dtype=bool)
    origin: dict[int, tuple[int, float]] = {}
    out: list[tuple[str, int, float] | None] = []
    for pos in range(n):
        hit: tuple[int, float] | None = None
        twin = int(first_of[pos])
        if twin != -1:
            hit = (twin, 1.0) if kept[twin] else origin.get(twin)
        else:
            for _neg, ear, sim in sorted(cands.get(pos, ())):  # most shared bands first, as on one machine
                if kept[ear]:
                    hit = (ear, sim)
                    break
        if hit is None:
            kept[pos] = True
            out.append(None)
        else:
            origin[pos] = hit
            out.append(("kept", hit[0], hit[1]))
    return out

