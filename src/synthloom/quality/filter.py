"""Heuristic filters: cheap checks on a candidate's text, each with its own reason.

Reasons (stage `filter`): too_short, too_long, blacklist, refusal, boilerplate,
language, repeated_ngrams.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..records import Problem, Record, Rejection
from .base import GateContext, StatelessGate
from .canned import canned_text
from .language_id import detect_language
from .text import record_text, words

_CANNED = {"refusal": "reads like a refusal", "boilerplate": "assistant boilerplate or placeholder"}


def repeated_ngram_share(text: str, n: int = 3) -> tuple[float, str]:
    """Share of the words covered by the most repeated word n-gram (0 when none repeats)."""
    toks = words(text)
    if len(toks) < 2 * n:
        return 0.0, ""
    grams = Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0, ""
    return min(1.0, count * n / len(toks)), " ".join(gram)



def repeated_ngram_rate(text: str, n: int = 3) -> float:
    """Share of the text's word n-grams that already occurred earlier in it: 0 for text that never repeats
    itself, near 1 for a sentence said over and over (which `repeated_ngram_share`, one n-gram's cover,
    rates low when the sentence is long)."""
    toks = words(text)
    total = len(toks) - n + 1
    if total < 2:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    again = 0
    for i in range(total):
        g = tuple(toks[i : i + n])
        again += g in seen
        seen.add(g)
    return again / total

# ---------------------------------------------------------------- the gate

def _n(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


class HeuristicFilter(StatelessGate):
    name = "filter"
    stage = "filter"

    def __init__(self, *, fields: list[str] | None = None, min_chars: int | None = None, max_chars: int | None = None,
                 min_words: int | None = None, max_words: int | None = None, blacklist: list[str] = (),
                 refusals: bool = True, language: str | list[str] | None = None,
                 max_repeated_ngram_share: float | None = 0.3, repeat_ngram: int = 3) -> None:
        self.fields = fields
        self.min_chars, self.max_chars, self.min_words, self.max_words = min_chars, max_chars, min_words, max_words
        self.blacklist = [b for b in blacklist if b.strip()]
        self._black = [re.compile(rf"(?<!\w){re.escape(b.strip())}(?!\w)", re.IGNORECASE) for b in self.blacklist]
        self.refusals = refusals
        self.languages = [language] if isinstance(language, str) else list(language or [])
        self.max_rep, self.rep_n = max_repeated_ngram_share, repeat_ngram

    def reason(self, text: str) -> Problem | None:
        """(reason, detail) of the first check the text fails, or None."""
        n_chars, n_words = len(text.strip()), len(words(text))
        if self.min_chars is not None and n_chars < self.min_chars:
            return Problem("too_short", f"{_n(n_chars, 'character')}, fewer than min_chars={self.min_chars}")
        if self.min_words is not None and n_words < self.min_words:
            return Problem("too_short", f"{_n(n_words, 'word')}, fewer than min_words={self.min_words}")
        if self.max_chars is not None and n_chars > self.max_chars:
            return Problem("too_long", f"{n_chars} characters, more than max_chars={self.max_chars}")
        if self.max_words is not None and n_words > self.max_words:
            return Problem("too_long", f"{n_words} words, more than max_words={self.max_words}")
        for word, pat in zip(self.blacklist, self._black):
            if pat.search(text):
                return Problem("blacklist", f"contains the blacklisted {word!r}")
        canned = canned_text(text, _CANNED) if self.refusals else None
        if canned:
            return canned
        if self.languages and n_words >= 3:
            lang, conf = detect_language(text)
            if lang not in self.languages:
                return Problem("language", f"detected language {lang} (confidence {conf:.2f}), expected {'/'.join(self.languages)}")
        if self.max_rep is not None:
            share, gram = repeated_ngram_share(text, self.rep_n)
            if share > self.max_rep:
                return Problem("repeated_ngrams", f"{gram!r} repeats, covering {share:.0%} of the words (max {self.max_rep:.0%})")
        return None

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        found = self.reason(record_text(rec.data, self.fields))
        if found:
            return Rejection.of(rec, "filter", found[0], found[1])
        return rec


def build(config: Any, base_dir: Path) -> HeuristicFilter:
    """quality.GATES entry for `gate: filter`."""
    kw = config.model_dump(exclude={"gate"})
    return HeuristicFilter(**kw)
