"""Checks on a translated text: language, protected spans, length, back-translation similarity.

Each check returns None or a `Problem` (reason, detail); the translate technique rejects a record with the
first problem of any of its fields. Reasons:

  language:source      the text is (still, or again) in the source language: drift back to English
  language:wrong       the text is in another language than the target, or too unsure
  keep:placeholder     a placeholder ({name}, {{x}}, %s, <tag>, [TOKEN]) is missing
  keep:url / keep:email / keep:code / keep:term / keep:entity   a URL, email, `code`, a listed term or a
                       named entity of the source is missing
  keep:number          a number of the source is missing or changed (digits compared, so 1,000.50 and
                       1.000,50 are the same number)
  length_ratio         translated/source length outside the bounds
  back_translation     the back-translation is too far from the source (embedding cosine)
"""
from __future__ import annotations

import re
from typing import Any

from ..records import Problem
from .language_id import identify

PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{[\w.]*\}|%\(\w+\)[sd]|%[sd]|</?[A-Za-z][\w-]*>|\[[A-Z][A-Z0-9_]+\]")
URL = re.compile(r"https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
CODE = re.compile(r"`[^`\n]+`")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,\u202f\u00a0 ]\d{3})*(?:[.,]\d+)?(?![\w])")
# capitalised words inside a sentence (not after . ! ? or at the start): a cheap named-entity proxy
_ENTITY = re.compile(r"(?<![.!?:]\s)(?<!^)(?<![\"'(\[])\b([A-Z][a-z]+[A-Z0-9][\w]*|[A-Z]{2,}[\w]*|[A-Z][a-z]+(?:\s[A-Z][a-z]+)+)\b")
_COMMON_CAPS = {"I", "OK", "AM", "PM", "TV", "ID", "FAQ", "USD", "EUR", "GBP", "CEO", "AI"}

SHORT_WORDS = 4  # below this many words, language ID is narrowed to {source, target}


def protected_spans(text: str, *, numbers: bool = True, entities: bool = True,
                    keep: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(kind, span) pairs that a translation of `text` must keep unchanged."""
    out: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, pattern: re.Pattern) -> None:
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            out.append((kind, m.group(0)))

    add("url", URL)
    add("email", EMAIL)
    add("code", CODE)
    add("placeholder", PLACEHOLDER)
    for term in keep:
        if term and term in text:
            out.append(("term", term))
    if entities:
        for m in _ENTITY.finditer(text):
            if any(a <= m.start() < b for a, b in taken) or m.group(1) in _COMMON_CAPS:
                continue
            out.append(("entity", m.group(1)))
    if numbers:
        for m in NUMBER.finditer(text):
            if not any(a <= m.start() < b for a, b in taken):
                out.append(("number", m.group(0)))
    return out


def clip(text: str, n: int = 80) -> str:
    """`text` cut to about n characters at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    cut = text[:n].rsplit(" ", 1)[0]
    return (cut or text[:n]) + "\u2026"


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def missing_span(source: str, translated: str, **kw: Any) -> Problem | None:
    """The first protected span of `source` that `translated` lost, as (reason, detail)."""
    numbers_out = [_digits(m.group(0)) for m in NUMBER.finditer(translated)]
    for kind, span in protected_spans(source, **kw):
        if kind == "number":
            if _digits(span) not in numbers_out:
                return Problem("keep:number", f"number {span!r} of the source is missing or changed")
        elif span not in translated:
            return Problem(f"keep:{kind}", f"{kind} {span!r} of the source is missing")
    return None


def language_problem(text: str, target: str, source: str, min_confidence: float = 0.5) -> Problem | None:
    """Is `text` in `target`? Short texts (a few words) are judged between source and target only,
    where a 97-language vote is noise; a text with no letters (a number, a code) passes."""
    if not re.search(r"[^\W\d_]", text):
        return None
    n_words = len(text.split())
    if n_words < SHORT_WORDS:
        lang, prob = identify(text, tuple(sorted({source, target})))
        if lang == source and prob >= 0.8:
            return Problem("language:source", f"{clip(text, 60)!r} reads as {source} ({prob:.2f}), not {target}")
        return None
    lang, prob = identify(text)
    if lang == target and prob >= min_confidence:
        return None
    if lang != target:
        # a close call between neighbours (es/pt/gl, no/da) is settled between the two that matter
        lang2, prob2 = identify(text, tuple(sorted({source, target})))
        if lang2 == target and prob2 >= 0.9 and lang != source:
            return None
    if lang == source:
        return Problem("language:source", f"reads as {source} ({prob:.2f}), not {target}: {clip(text)!r}")
    return Problem("language:wrong", f"reads as {lang} ({prob:.2f}), not {target}: {clip(text)!r}")


def length_problem(source: str, translated: str, bounds: tuple[float, float]) -> Problem | None:
    if len(source.strip()) < 12:  # a word or two: ratios mean nothing
        return None if translated.strip() else ("length_ratio", "empty translation")
    ratio = len(translated.strip()) / max(1, len(source.strip()))
    lo, hi = bounds
    if ratio < lo or ratio > hi:
        return Problem("length_ratio", f"translation is {ratio:.2f}x the source length (allowed {lo:g}-{hi:g})")
    return None


def cosine(a: str, b: str, embedder: Any) -> float:
    import numpy as np

    va, vb = embedder.embed([a, b])
    return float(np.dot(va, vb))
