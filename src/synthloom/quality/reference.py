"""Checks of synthetic records against a real sample: no near-copies, no unexpected PII.

`gate: reference` rejects a candidate when too many of its word 4-grams occur in one
real record (or, with `max_similarity`, when its MiniLM embedding is that close to one),
and flags (or rejects) PII: emails, phone numbers, card numbers that pass the Luhn
check, IBANs that pass the mod-97 check, US SSNs and UK National Insurance numbers,
unless the string is on the allow-list. Every accepted record keeps its nearest-real
overlap in `meta.scores.real_overlap`, so the report can show that no real record
was reproduced. `compare.py` in export/ builds the distribution-match section.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .text import record_text

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
NGRAM = 4


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def ngrams(tokens: Sequence[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


class NgramIndex:
    """Which real texts hold a word n-gram: the share of a candidate's n-grams found in its closest real text."""

    def __init__(self, texts: Iterable[str], n: int = NGRAM) -> None:
        self.n = n
        self.texts = list(texts)
        self._index: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for i, text in enumerate(self.texts):
            for g in ngrams(words(text), n):
                self._index[g].add(i)

    def nearest(self, text: str) -> tuple[float, int | None]:
        """(overlap in [0, 1], index of the closest real text). A text shorter than n words counts
        only as an exact copy."""
        grams = ngrams(words(text), self.n)
        if not grams:
            return 0.0, None
        hits: Counter[int] = Counter()
        for g in grams:
            for i in self._index.get(g, ()):
                hits[i] += 1
        if not hits:
            return 0.0, None
        i, k = hits.most_common(1)[0]
        return k / len(grams), i


# --- PII ---------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_PHONE_BARE = re.compile(r"(?<![\w+.-])\+?\d{10,13}(?![\w-])(?!\.\d)")  # 5198722741: a phone number typed without spaces
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w-])")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_NINO = re.compile(r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def find_pii(text: str, allow: Iterable[str] = ()) -> list[dict[str, str]]:
    """PII in `text`: [{kind, value}], kinds email, card, iban, ssn, nino, phone. Allowed strings
    (compared without spaces and dashes, case-insensitive) are left out."""
    allowed = {re.sub(r"[\s-]", "", a).casefold() for a in allow}
    found: list[dict[str, str]] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, m: re.Match) -> None:
        if any(a < m.end() and m.start() < b for a, b in taken):
            return
        if re.sub(r"[\s-]", "", m.group()).casefold() in allowed:
            taken.append(m.span())
            return
        taken.append(m.span())
        found.append({"kind": kind, "value": m.group()})

    for m in _EMAIL.finditer(text):
        add("email", m)
    for m in _IBAN.finditer(text):
        if iban_ok(m.group()):
            add("iban", m)
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            add("card", m)
    for m in _SSN.finditer(text):
        add("ssn", m)
    for m in _NINO.finditer(text):
        add("nino", m)
    for m in _PHONE.finditer(text):
        if 9 <= sum(c.isdigit() for c in m.group()) <= 15:  # E.164: at most 15 digits
            add("phone", m)
    for m in _PHONE_BARE.finditer(text):
        add("phone", m)
    return found


# --- the gate ----------------------------------------------------------------------------------------

class ReferenceGate(StatelessGate):
    name = "reference"
    stage = "dedup"  # a near-copy of a real record is a duplicate of it

    def __init__(self, texts: list[str], *, fields: list[str] | None, max_overlap: float = 0.6,
                 max_similarity: float | None = None, pii: str = "flag", pii_allow: Sequence[str] = (),
                 embedder: Any = None) -> None:
        self.index = NgramIndex(texts)
        self.fields = fields
        self.max_overlap = max_overlap
        self.max_similarity = max_similarity
        self.pii = pii
        self.pii_allow = list(pii_allow)
        self._embedder = embedder
        self._real_vectors = None


    def text_of(self, rec: Record) -> str:
        if not isinstance(rec.data, dict):  # an array or string record: its JSON
            return record_text(rec.data, self.fields)
        names = self.fields or [k for k, v in rec.data.items() if isinstance(v, str)]
        return "\n".join(str(rec.data[k]) for k in names if isinstance(rec.data.get(k), str))

    async def _similarity(self, text: str) -> tuple[float, int]:
        import asyncio

        import numpy as np

        if self._embedder is None:
            from .embeddings import make_embedder

            self._embedder = make_embedder()
        if self._real_vectors is None:
            self._real_vectors = await asyncio.to_thread(self._embedder.embed, self.index.texts)
        vec = await asyncio.to_thread(self._embedder.embed, [text])
        sims = self._real_vectors @ vec[0]
        i = int(np.argmax(sims))
        return float(sims[i]), i

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        text = self.text_of(rec)
        overlap, i = self.index.nearest(text)
        out = rec.with_scores(real_overlap=round(overlap, 4))
        if overlap > self.max_overlap:
            return Rejection.of(out, self.stage, "near_copy_of_real",
                                f"{overlap:.0%} of its word 4-grams occur in real record #{i + 1}: "
                                f"{self.index.texts[i][:120]!r}")
        if self.max_similarity is not None:
            sim, j = await self._similarity(text)
            out = out.with_scores(real_similarity=round(sim, 4))
            if sim >= self.max_similarity:
                return Rejection.of(out, self.stage, "near_copy_of_real",
                                    f"cosine similarity {sim:.3f} to real record #{j + 1}: {self.index.texts[j][:120]!r}")
        if self.pii != "off":
            found = find_pii(text, self.pii_allow)
            if found:
                if self.pii == "reject":
                    kinds = ", ".join(sorted({f["kind"] for f in found}))
                    return Rejection.of(out, "filter", "pii", f"{kinds}: {found[0]['value']!r} is not on pii_allow")
                out = out.with_meta(pii=found)
        return out


def build(config: Any, base_dir: Path) -> ReferenceGate:
    """quality.GATES entry for `gate: reference`."""
    from ..sources.labels import read_labelled

    rows = read_labelled(config.path, config.text_field, config.label_field, base_dir, what="reference sample")
    return ReferenceGate([r[config.text_field] for r in rows], fields=config.fields or [config.text_field],
                         max_overlap=config.max_overlap, max_similarity=config.max_similarity,
                         pii=config.pii, pii_allow=config.pii_allow)
