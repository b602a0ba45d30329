"""Diversity: metrics of a set of texts, and a gate that caps dominant patterns.

Metrics (checked on constructed sets with known answers in the tests):
- distinct-n: unique word n-grams / all word n-grams (1.0 = no n-gram repeats);
- compression ratio: raw bytes / gzip bytes of the texts joined (1 ~ incompressible;
  higher = more repetitive);
- self-BLEU: mean BLEU-4 of each sampled text against the others (lower = more diverse);
- mean pairwise embedding distance: 1 - mean cosine over all pairs;
- Vendi score: exp(entropy of the eigenvalues of K/n), K the cosine-similarity
  matrix: 1 for identical items, k for k mutually orthogonal items — the
  "effective number of distinct items";
- near-duplicate rate: share of texts that repeat an earlier one (MinHash, Jaccard >= 0.8).
"""
from __future__ import annotations

import gzip
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..records import Record, Rejection, fields_of
from .base import GateContext
from .text import normalize, record_text, words


def distinct_n(texts: Sequence[str], n: int) -> float:
    total, seen = 0, set()
    for t in texts:
        toks = words(t)
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def compression_ratio(texts: Sequence[str]) -> float:
    raw = "\n".join(texts).encode("utf-8")
    if not raw:
        return 0.0
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0))


def _ngrams(toks: list[str], n: int) -> Counter:
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


def bleu(hyp: list[str], refs: list[list[str]], max_n: int = 4, eps: float = 0.1) -> float:
    """Sentence BLEU with uniform weights, clipped counts, brevity penalty, epsilon smoothing of zero counts."""
    if not hyp or not refs:
        return 0.0
    log_p = 0.0
    for n in range(1, max_n + 1):
        h = _ngrams(hyp, n)
        denom = sum(h.values())
        if denom == 0:
            return 0.0 if n == 1 else math.exp(log_p / (n - 1)) * _bp(hyp, refs)
        max_ref: Counter = Counter()
        for r in refs:
            for g, c in _ngrams(r, n).items():
                if c > max_ref[g]:
                    max_ref[g] = c
        clipped = sum(min(c, max_ref[g]) for g, c in h.items())
        if clipped == 0 and n == 1:
            return 0.0  # nothing in common: no smoothing can make that similar
        log_p += math.log((clipped or eps) / denom)
    return math.exp(log_p / max_n) * _bp(hyp, refs)


def _bp(hyp: list[str], refs: list[list[str]]) -> float:
    c = len(hyp)
    r = min((abs(len(x) - c), len(x)) for x in refs)[1]
    return 1.0 if c > r else math.exp(1 - r / c) if c else 0.0


def self_bleu(texts: Sequence[str], sample: int = 100, seed: int = 0) -> float:
    toks = [words(t) for t in texts if t.strip()]
    if len(toks) < 2:
        return 0.0
    idx = list(range(len(toks)))
    if len(idx) > sample:
        idx = random.Random(seed).sample(idx, sample)
    scores = [bleu(toks[i], [toks[j] for j in idx if j != i]) for i in idx]
    return float(np.mean(scores))


def vendi_score(vectors: np.ndarray) -> float:
    """Vendi score of L2-normalised rows (cosine kernel)."""
    n = len(vectors)
    if n == 0:
        return 0.0
    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    # X^T X / n has the same non-zero eigenvalues as K / n = X X^T / n, and is d x d
    small = x.T @ x / n if x.shape[1] < n else x @ x.T / n
    eig = np.clip(np.linalg.eigvalsh(small), 0.0, None)
    eig = eig[eig > 1e-12]
    eig = eig / eig.sum()
    return float(np.exp(-(eig * np.log(eig)).sum()))


def mean_pairwise_distance(vectors: np.ndarray) -> float:
    """1 - mean cosine similarity over all pairs i < j."""
    n = len(vectors)
    if n < 2:
        return 0.0
    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    s = x.sum(axis=0)
    total = float(s @ s) - float((x * x).sum())  # sum over i != j of cos
    return max(0.0, 1.0 - total / (n * (n - 1)))


def near_duplicate_rate(texts: Sequence[str], threshold: float = 0.8) -> float:
    from .dedup import dedup_texts

    if not texts:
        return 0.0
    marks = dedup_texts(list(texts), "minhash", threshold)
    return sum(m is not None for m in marks) / len(texts)


def diversity_metrics(texts: Sequence[str], embedder: Any = None, *, sample: int = 100,
                      max_embed: int = 500, seed: int = 0) -> dict[str, Any]:
    """All metrics for a set of texts. Embedding metrics use `embedder` (on at most `max_embed` texts)."""
    out: dict[str, Any] = {
        "n": len(texts),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
        "compression_ratio": compression_ratio(texts),
        "self_bleu": self_bleu(texts, sample=sample, seed=seed),
        "self_bleu_sample": min(sample, len(texts)),
        "near_duplicate_rate": near_duplicate_rate(texts),
    }
    if embedder is not None and texts:
        pick = list(texts)
        if len(pick) > max_embed:
            pick = random.Random(seed).sample(pick, max_embed)
        vecs = embedder.embed(pick)
        out.update(embedding=getattr(embedder, "identity", "?"), embedded=len(pick),
                   mean_pairwise_distance=mean_pairwise_distance(vecs), vendi_score=vendi_score(vecs))
    return out


# ---------------------------------------------------------------- the cap gate

def attribute_value(rec: Record, name: str) -> Any:
    attrs = rec.meta.get("attributes")
    if isinstance(attrs, dict) and name in attrs:
        return attrs[name]
    return fields_of(rec.data).get(name)


def opening(text: str, n: int) -> str:
    return " ".join(normalize(text).split()[:n])


class DiversityCapGate:
    """Caps how many accepted records may share an attribute value or an opening."""

    name = "diversity"
    stage = "diversity"
    stateful = True

    def __init__(self, *, attributes: Iterable[str] = (), max_share: float | None = None, max_count: int | None = None,
                 opening_words: int | None = None, fields: list[str] | None = None, warmup: int = 10) -> None:
        self.attributes = list(attributes)
        self.max_share, self.max_count = max_share, max_count
        self.opening_words, self.fields = opening_words, fields
        self.warmup = warmup
        self.total = 0
        self.counts: Counter = Counter()

    def _keys(self, rec: Record) -> list[tuple[str, str]]:
        keys = []
        for a in self.attributes:
            v = attribute_value(rec, a)
            if v is not None:
                keys.append((a, v if isinstance(v, str) else repr(v)))
        if self.opening_words:
            o = opening(record_text(rec.data, self.fields), self.opening_words)
            if o:
                keys.append(("opening", o))
        return keys

    def prime(self, accepted: Iterable[Record]) -> None:
        self.total, self.counts = 0, Counter()
        for r in accepted:
            self.commit(r)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        for key in self._keys(rec):
            have = self.counts[key]
            if self.max_count is not None and have + 1 > self.max_count:
                return Rejection.of(rec, "diversity", f"cap:{key[0]}",
                                    f"{key[0]}={key[1]!r} already has {have} accepted records (max_count {self.max_count})")
            target = ctx.target
            if self.max_share is not None and target:
                # the target is known: cap each value at its share of the final dataset
                cap = max(1, math.floor(self.max_share * target + 1e-9))
                if have + 1 > cap:
                    return Rejection.of(rec, "diversity", f"cap:{key[0]}",
                                        f"{key[0]}={key[1]!r} already has {have} accepted records, the most "
                                        f"max_share {self.max_share:.0%} of {target} allows")
            elif self.max_share is not None and self.total + 1 > self.warmup:
                share = (have + 1) / (self.total + 1)
                if share > self.max_share:
                    return Rejection.of(rec, "diversity", f"cap:{key[0]}",
                                        f"{key[0]}={key[1]!r} would hold {share:.0%} of the accepted records "
                                        f"(max_share {self.max_share:.0%})")
        return rec

    def commit(self, rec: Record) -> None:
        self.total += 1
        for key in self._keys(rec):
            self.counts[key] += 1


def build(config: Any, base_dir: Path) -> DiversityCapGate:
    """quality.GATES entry for `gate: diversity`."""
    return DiversityCapGate(attributes=config.attributes, max_share=config.max_share, max_count=config.max_count,
                            opening_words=config.opening_words, fields=config.fields, warmup=config.warmup)
