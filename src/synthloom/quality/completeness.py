"""Completeness: does a text end where a text ends? A text-level check, usable on any file.

It reads only the text (the decoder's own finish reason is another check, made
where the text is generated), and finds the marks a cut leaves:

- an open code fence (an odd number of ``` lines), an unclosed bracket or quote;
- a dangling list item (a marker with nothing after it);
- an ending that promises more: a colon, a comma, a hyphen, or a last word that
  cannot end a sentence ("the", "and", "of", ...);
- prose that writes whole sentences but whose last one has no end mark.

A short answer with no punctuation at all ("Paris", "neutral", "42") is
complete, and so is a list, poem or table whose lines never end in a mark. The
score is 1.0 (ends with an end mark), 0.75 (complete by its style: a short answer
or unpunctuated lines), 0.5 (one line of four or more words with no end mark: more
likely cut than not), or 0.0 (a mark of a cut, named in the reason).
"""
from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .pairs import PairFields
from .text import record_text

END_MARKS = set(".!?…。！？\"'”’)]}>*_~`|$%°")
OPEN_ENDINGS = set(":,;-–—(/&+=\\[{<")
# words that do not end an English sentence: a text that stops on one was cut
NON_FINAL_WORDS = frozenset(
    """a an the and or but nor of to with without for from in on at by into onto upon about as than that which who
    whom whose whether if because although though while when where so such is are was were be been being has have
    had do does did will would shall should can could may might must my your his her its our their this these those
    very more most less least not no every each any some both either neither between among through during before
    after over under via per including like such e.g i.e""".split()
)
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_LIST_MARKER = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)]|[a-zA-Z][.)])(?:\s+|$)")
_EMPTY_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)])\s*$")
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*(?:\s|$)")
_NUMBERS = re.compile(r"^[\s\d.,;:%/+-]+$")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
PAIRS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class Completeness:
    score: float
    reason: str | None = None  # None when complete
    detail: str = ""


def _strip_code(text: str) -> str:
    """The text outside fenced code blocks (brackets inside code are the code's business)."""
    out, inside = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            out.append(line)
    return "\n".join(out)


def _unclosed_bracket(prose: str) -> str | None:
    depth = {o: 0 for o in PAIRS}
    closing = {c: o for o, c in PAIRS.items()}
    for ch in prose:
        if ch in depth:
            depth[ch] += 1
        elif ch in closing and depth[closing[ch]] > 0:  # a lone ')' ("a) first") closes nothing
            depth[closing[ch]] -= 1
    for o, n in depth.items():
        if n > 0:
            return o
    return None


def _unclosed_quote(prose: str) -> bool:
    straight = prose.count('"')
    return straight % 2 == 1 or prose.count("“") > prose.count("”")


_ATTRIBUTION = re.compile(r"[\"”’.!?]\s*(?:—|–|--|-)\s*[\w .'’-]{2,40}$")


def _signed(lines: list[str]) -> bool:
    """A letter's sign-off under a greeting line ending in a comma, or a quote's attribution."""
    last = lines[-1].strip()
    if len(lines) >= 2 and lines[-2].rstrip().endswith(",") and 0 < len(last.split()) <= 4:
        return True
    return bool(_ATTRIBUTION.search(last))


def _verse(lines: list[str]) -> bool:
    """Three or more short lines (a poem): its last line often has no end mark."""
    return len(lines) >= 3 and all(len(ln.split()) <= 10 for ln in lines)


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    """Whole English words (sorted), from the MiniLM tokenizer's vocabulary when it is installed."""
    try:
        from .embeddings import bundled_minilm_path

        vocab = json.loads((bundled_minilm_path() / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    except Exception:  # no embedding extra: the check is skipped
        return ()
    return tuple(sorted(w for w in vocab if w.isalpha() and w.isascii() and len(w) > 1))


def _word_fragment(word: str) -> bool:
    """A word the vocabulary does not have, but that begins one it has ("prepa" of "prepare")."""
    words_ = _vocabulary()
    w = word.lower()
    if not words_ or len(w) < 2 or not w.isascii():
        return False
    i = bisect.bisect_left(words_, w)
    if i < len(words_) and words_[i] == w:
        return False
    return i < len(words_) and words_[i].startswith(w)


def _unpunctuated_style(lines: list[str]) -> bool:
    """Lines (list items, verse, table rows) that as a rule do not end with a mark."""
    if len(lines) < 2:
        return False
    bare = sum(1 for ln in lines[:-1] if ln.rstrip()[-1:].isalnum())
    return bare >= max(1, (len(lines) - 1) / 2)


def check_completeness(text: str, short_answer_words: int = 12) -> Completeness:
    body = text.rstrip()
    if not body.strip():
        return Completeness(0.0, "empty", "the text is empty")
    if len(_FENCE.findall(body)) % 2 == 1:
        return Completeness(0.0, "open_code_fence", "a ``` code block is opened and never closed")
    prose = _strip_code(body)
    bracket = _unclosed_bracket(prose)
    if bracket:
        return Completeness(0.0, "unclosed_bracket", f"a '{bracket}' is never closed")
    if _unclosed_quote(prose):
        return Completeness(0.0, "unclosed_quote", "a quotation mark is opened and never closed")
    lines = [ln for ln in body.splitlines() if ln.strip()]
    last_line = lines[-1]
    if len(lines) > 1 and _EMPTY_ITEM.match(last_line):
        return Completeness(0.0, "dangling_list_item", f"the last line is a list marker with nothing after it: {last_line.strip()!r}")
    if _FENCE.match(last_line):
        return Completeness(1.0)
    last = body[-1]
    if last in OPEN_ENDINGS:
        return Completeness(0.0, "open_ending", f"the text ends with {last!r}, which promises more")
    if last in END_MARKS or not last.isalnum():
        return Completeness(1.0)
    tail_words = _WORD.findall(last_line.lower())
    final = tail_words[-1] if tail_words else ""
    if final in NON_FINAL_WORDS:
        return Completeness(0.0, "cut_mid_sentence", f"the text stops on {final!r}, a word that does not end a sentence")
    if _signed(lines):
        return Completeness(0.75)  # "Best regards,\nAnna", "... started." — Mark Twain
    if final.isalpha() and _word_fragment(final):
        return Completeness(0.0, "cut_mid_word", f"the text stops on {final!r}, the start of a longer word")
    if len(lines) == 1 and len(tail_words) <= short_answer_words and not _SENTENCE_END.search(prose):
        # a short answer: "Paris", "neutral", "3, 7, 19"; a longer one without an end mark reads as cut
        if len(tail_words) <= 3 or _NUMBERS.match(last_line):
            return Completeness(0.75)
        return Completeness(0.5, "no_end_mark", f"a sentence with no end mark: {body[-60:]!r}")
    if _unpunctuated_style(lines) or _verse(lines) or (_LIST_MARKER.match(last_line) and not _SENTENCE_END.search(last_line)):
        return Completeness(0.75)
    if "|" in last_line:
        return Completeness(0.75)  # a table row
    return Completeness(0.0, "cut_mid_sentence",
                        f"the last sentence has no end mark: ...{body[-60:]!r}")


class CompletenessGate(StatelessGate):
    """`gate: completeness`: reject responses that stop before they end (score below `threshold`)."""

    name = "completeness"
    stage = "filter"

    def __init__(self, fields: list[str] | None = None, threshold: float = 0.6,
                 pair: PairFields | None = None) -> None:
        self.fields = fields
        self.threshold = threshold
        self.pair = pair or PairFields()

    def text_of(self, data: dict[str, Any]) -> str:
        if self.fields or not isinstance(data, dict):
            return record_text(data, self.fields)
        resp = self.pair.response_text(data, required=False)
        return resp if resp is not None else record_text(data)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        c = check_completeness(self.text_of(rec.data))
        rec = rec.with_scores(completeness=c.score)
        if c.score < self.threshold:
            return Rejection.of(rec, "filter", f"incomplete:{c.reason}", c.detail)
        return rec


def build(config: Any, base_dir: Path) -> CompletenessGate:
    return CompletenessGate(config.fields, config.threshold, PairFields(response=config.response_field))
