"""ROUGE-L (F-measure, no stemming) and a pool index that answers "is anything in
the pool too similar to this text?" fast, with exact scores.

Scores match `rouge_score.rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)`:
the same tokenizer (lowercase, every run of characters outside [a-z0-9] is a
separator) and the same arithmetic for F (2PR / (P + R)).

Why it is fast: ROUGE-L F between texts of m and n tokens is 2*LCS/(m+n), and
LCS can never exceed the bag-of-words overlap (the multiset intersection). The
pool keeps an inverted index (token -> documents, with counts), so one query
sums overlaps for every pooled text in a few vectorised numpy steps and scores
exactly (bit-parallel LCS) only the texts whose bound can reach the threshold.
The bound never under-estimates, so the answer is exactly what a brute-force
scan would give, only without the scan.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_EPS = 1e-9


def tokenize(text: str) -> list[str]:
    """rouge_score's default tokenizer (no stemmer)."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def lcs_length(a: Sequence[object], b: Sequence[object]) -> int:
    """Length of the longest common subsequence (bit-parallel, O(len(b)) big-int steps)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    return _lcs_masks(_match_masks(b), len(b), a)


def _match_masks(seq: Sequence[object]) -> dict[object, int]:
    masks: dict[object, int] = {}
    for i, tok in enumerate(seq):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    return masks


def _lcs_masks(masks: dict[object, int], m: int, other: Iterable[object]) -> int:
    # Crochemore et al. 2001 / Hyyro 2004: V has a 0 bit for every matched row.
    full = (1 << m) - 1
    v = full
    get = masks.get
    for tok in other:
        mt = get(tok)
        if mt:
            u = v & mt
            v = ((v + u) | (v - u)) & full
    return m - bin(v).count("1")


def f_measure(lcs: int, target_len: int, prediction_len: int) -> float:
    """rouge_score's arithmetic: P = lcs/len(prediction), R = lcs/len(target), F = 2PR/(P+R)."""
    if not target_len or not prediction_len:
        return 0.0
    p = lcs / prediction_len
    r = lcs / target_len
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def rouge_l(target: str, prediction: str) -> float:
    """ROUGE-L F of two texts (symmetric)."""
    a, b = tokenize(target), tokenize(prediction)
    return f_measure(lcs_length(a, b), len(a), len(b))


class _Postings:
    """A growable pair of numpy arrays: document ids and token counts."""

    __slots__ = ("ids", "counts", "size")

    def __init__(self) -> None:
        self.ids = np.empty(4, dtype=np.int32)
        self.counts = np.empty(4, dtype=np.int16)
        self.size = 0

    def append(self, doc: int, count: int) -> None:
        if self.size == len(self.ids):
            self.ids = np.resize(self.ids, 2 * self.size)
            self.counts = np.resize(self.counts, 2 * self.size)
        self.ids[self.size] = doc
        self.counts[self.size] = min(count, 32767)
        self.size += 1


class RougePool:
    """A growing set of texts and exact "most similar text" queries under ROUGE-L F.

    >>> pool = RougePool(["Write a poem about the sea."])
    >>> score, i = pool.best_match("Write a poem about the sea and the sky.", floor=0.7)
    >>> round(score, 3), i
    (0.8, 0)
    """

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.texts: list[str] = []
        self._docs: list[tuple[int, ...]] = []  # token ids per text
        self._vocab: dict[str, int] = {}
        self._postings: list[_Postings] = []
        self._lens = np.empty(16, dtype=np.int32)
        self.scored = 0  # exact LCS computations done (for benchmarks)
        for t in texts:
            self.add(t)

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str) -> int:
        """Add a text; returns its index."""
        idx = len(self.texts)
        ids = []
        for tok in tokenize(text):
            tid = self._vocab.get(tok)
            if tid is None:
                tid = self._vocab[tok] = len(self._postings)
                self._postings.append(_Postings())
            ids.append(tid)
        for tid, c in Counter(ids).items():
            self._postings[tid].append(idx, c)
        if idx == len(self._lens):
            self._lens = np.resize(self._lens, 2 * idx)
        self._lens[idx] = len(ids)
        self.texts.append(text)
        self._docs.append(tuple(ids))
        return idx

    def _candidates(self, text: str, floor: float):
        """(query token ids, query length, candidate indices sorted by bound, bounds) or None.

        With a floor, prefix filtering first: a text whose F can exceed the floor
        must share more than k = floor*m/(2-floor) tokens with the query, so it
        contains one of the query's m-k rarest tokens; only those (short) posting
        lists are read to find candidates, then each candidate's bag overlap is
        completed by binary search in the other lists (doc ids are sorted).
        """
        toks = tokenize(text)
        m = len(toks)
        n_docs = len(self.texts)
        if not m or not n_docs:
            return None
        counts = Counter(toks)
        q = []  # (tid or None, count, posting size)
        for tok, c in counts.items():
            tid = self._vocab.get(tok)
            q.append((tid, c, self._postings[tid].size if tid is not None else 0))
        cand = None
        if floor > 0:
            k = int(floor * m / (2 - floor) - 1e-9) + 1  # least overlap that can beat the floor (rounded down: safe)
            prefix = m - k + 1
            q.sort(key=lambda e: e[2])
            taken, pieces, budget = 0, [], 0
            for tid, c, size in q:
                if taken >= prefix:
                    break
                taken += c
                if tid is not None:
                    pieces.append(self._postings[tid].ids[:size])
                    budget += size
            if budget <= max(64, n_docs // 64):
                cand = np.unique(np.concatenate(pieces)) if pieces else np.empty(0, dtype=np.int32)
        if cand is not None:
            if not len(cand):
                return None
            overlap = np.zeros(len(cand), dtype=np.int32)
            for tid, c, size in q:
                if tid is None:
                    continue
                p = self._postings[tid]
                ids = p.ids[:size]
                pos = np.searchsorted(ids, cand)
                pos[pos >= size] = 0
                hit = ids[pos] == cand
                overlap += np.where(hit, np.minimum(p.counts[pos], c) if c > 1 else 1, 0).astype(np.int32)
            lens = self._lens[cand]
        else:
            overlap = np.zeros(n_docs, dtype=np.int32)
            for tid, c, size in q:
                if tid is None:
                    continue
                p = self._postings[tid]
                ids = p.ids[:size]
                if c == 1:
                    overlap[ids] += 1
                else:
                    overlap[ids] += np.minimum(p.counts[:size], c)
            cand = np.arange(n_docs)
            lens = self._lens[:n_docs]
        # F <= 2*overlap/(m+n): keep only texts whose bound can exceed the floor
        bound_c = (2.0 * overlap) / (m + lens)
        keep = (overlap > 0) & (bound_c > floor - _EPS)
        if not keep.any():
            return None
        kept, kb = cand[keep], bound_c[keep]
        order = np.argsort(-kb, kind="stable")
        qtok = [self._vocab.get(t, -1 - i) for i, t in enumerate(toks)]  # unknown tokens never match
        return qtok, m, kept[order], dict(zip(kept[order].tolist(), kb[order].tolist()))

    def all_above(self, text: str, threshold: float) -> list[tuple[float, int]]:
        """Every pooled text with ROUGE-L F > threshold: [(score, index)], most similar first."""
        found = self._candidates(text, threshold)
        if found is None:
            return []
        qtok, m, order, _bound = found
        masks = _match_masks(qtok)
        hits = []
        for i in order.tolist():
            doc = self._docs[i]
            self.scored += 1
            f = f_measure(_lcs_masks(masks, m, doc), len(doc), m)
            if f > threshold:
                hits.append((f, i))
        hits.sort(key=lambda h: (-h[0], h[1]))
        return hits

    def best_match(self, text: str, floor: float = 0.0) -> tuple[float, int | None]:
        """The highest ROUGE-L F between `text` and any pooled text, and that text's index.

        Exact when the best score is above `floor`; otherwise returns (0.0, None)
        quickly, without scoring texts that cannot beat the floor.
        """
        found = self._candidates(text, floor)
        if found is None:
            return 0.0, None
        qtok, m, order, bound = found
        masks = _match_masks(qtok)
        best, best_i = 0.0, None
        docs = self._docs
        for i in order.tolist():
            if bound[i] + _EPS < best:
                break  # sorted by bound: nothing later can beat the best
            doc = docs[i]
            self.scored += 1
            f = f_measure(_lcs_masks(masks, m, doc), len(doc), m)
            if f > best:
                best, best_i = f, i
        if best_i is None or best <= floor:
            return 0.0, None
        return best, best_i

    def exceeds(self, text: str, threshold: float) -> tuple[float, int | None]:
        """(score, index) of the most similar pooled text if its ROUGE-L F is > threshold, else (0.0, None)."""
        return self.best_match(text, floor=threshold)
