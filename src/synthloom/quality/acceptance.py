"""Judge-free acceptance checks on free text: does a value read as language, and does it end?

`readable_problem(text, prose=...)` finds what a small model leaves when it loses the thread:

- `json_debris`: the structure of the reply leaks into the text (`}, {`, `"key": "`, an escaped
  `\\n` or `\\"`, a text that opens or closes with a brace);
- in prose, `json_debris` also for a brace with no partner (`....} I know that`), and
  `leading_ellipsis`: a text that opens with `...`, the continuation of something unseen;
- `enumeration_debris`: list markers with nothing after them (`(1) (2) ... (3):`);
- `punctuation_run`: three or more tokens in a row that hold no letter or digit (`... }, {`);
- `repetition_loop`: the text says the same thing over and over (more than `LOOP_SHARE` of its word
  3-grams occurred earlier in it, `filter.repeated_ngram_rate`; prose of `LOOP_MIN_WORDS` words or more,
  other strings of `LOOP_MIN_WORDS_ANY` or more at `LOOP_SHARE_ANY`): a model that lost the thread;
- for prose fields only (the text a technique writes, not a schema's codes and numbers):
  `no_words` (not one letter or digit) and `symbols` (under half of its visible characters
  are letters or digits).

`cut_problem(text)` keeps only the marks of a cut from `completeness` (an unclosed bracket or markup tag,
quote or code fence, a dangling list item, an ending that promises more such as `:` or `,`,
a last word that cannot end a sentence, a word cut short): a message with no end mark is
complete here, since people write them that way.

`AcceptanceGate` applies both to the fields a technique names (prose) and, for structural
debris only, to every other string of two or more words. Reasons: `readable:<kind>`,
`complete:<kind>`; the check's name is the first half, so a funnel names its signal.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .completeness import check_completeness
from .filter import repeated_ngram_rate

_JSON_DEBRIS = re.compile(
    r"[\]}]\s*,\s*[\[{]"            # }, {   ], [
    r"|\"\s*:\s*[\"{\[]"            # "key": "value
    r"|\"\w+\"\s*:"                 # "key":
)
_PROSE_DEBRIS = re.compile(
    r"\\[n\"t]"                      # an escape written out
    r"|^\s*\{|\}\s*$"                # opens or closes like a JSON object
    r"|\{\w+\}"                        # a template slot left unfilled: {name}
)
_EMOTICON = re.compile(r"[:;=]-?[()\[\]]")
_MARKER = r"(?:\(\d{1,2}\)|\d{1,2}[.)]|\([a-z]\)|[-*•])"
# a list marker followed by nothing but spaces, dots, colons or another marker
_EMPTY_MARKER = re.compile(rf"(?:^|\s){_MARKER}(?=\s*(?:[.…:;,]+\s*)*(?:{_MARKER}|$))")
_HAS_WORD = re.compile(r"[^\W_]{1,}", re.UNICODE)
_HAS_ALNUM = re.compile(r"\w", re.UNICODE)
_WORD_END = re.compile(r"[\w'’-]+", re.UNICODE)

CUT_KINDS = frozenset({"empty", "open_code_fence", "unclosed_bracket", "unclosed_quote", "dangling_list_item",
                       "open_ending", "cut_mid_word", "unclosed_tag"})
MIN_WORD_SHARE = 0.5
# A loop: on the project's real and hand-written texts of 12+ words (2,323 strings, benchmarks/data,
# examples, docs paragraphs) no prose reaches 0.30; generated texts read as junk do (0.36-0.56).
# Other strings (a schema's values, not asked to be sentences) may repeat a pattern on purpose, so
# only a longer, heavier loop counts there.
LOOP_SHARE, LOOP_MIN_WORDS = 0.30, 12
LOOP_SHARE_ANY, LOOP_MIN_WORDS_ANY = 0.50, 20
# words a message cannot stop on (completeness's list is for prose answers: "come in", "fix that", "log in",
# "what do I do" end many real messages, so prepositions, pronouns and verbs are left out here)
CUT_WORDS = frozenset("""a an the and or but nor of to my your our their very than because although
though whether if every each such between among including like e.g i.e""".split())


def readable_problem(text: str, prose: bool = True, allow: frozenset[str] | set[str] = frozenset()) -> tuple[str, str] | None:
    """(kind, detail) when the text does not read as language, else None. `allow`: kinds not looked for
    (an attack quotes JSON on purpose)."""
    body = text.strip()
    if not body:
        return ("no_words", "the text is empty") if prose else None
    m = _JSON_DEBRIS.search(body) or (_PROSE_DEBRIS.search(body) if prose else None)
    if m and re.fullmatch(r"\{\w+\}", m.group(0)):
        if "placeholder" not in allow:
            return "placeholder", f"a template slot left unfilled ({m.group(0)!r}): {body[:80]!r}"
    elif m and "json_debris" not in allow:
        return "json_debris", f"JSON structure inside the text ({m.group(0).strip()!r}): {body[:80]!r}"
    if prose and body.count("{") != body.count("}") and "json_debris" not in allow:
        return "json_debris", f"a brace with no partner, left from the reply's JSON: {body[:80]!r}"
    empty = _EMPTY_MARKER.findall(body)
    if len(empty) >= 2:
        return "enumeration_debris", f"{len(empty)} list markers with nothing after them: {body[:80]!r}"
    run = 0
    for tok in body.split():
        run = 0 if _HAS_ALNUM.search(tok) else run + 1
        if run >= 3:
            return "punctuation_run", f"three or more tokens of punctuation in a row: {body[:80]!r}"
    if "repetition_loop" not in allow:
        share, least = (LOOP_SHARE, LOOP_MIN_WORDS) if prose else (LOOP_SHARE_ANY, LOOP_MIN_WORDS_ANY)
        if len(body.split()) >= least:
            rate = repeated_ngram_rate(body)
            if rate > share:
                return "repetition_loop", (f"{rate:.0%} of its word 3-grams repeat earlier ones (max {share:.0%}): "
                                           f"{body[:80]!r}")
    if not prose:
        return None
    if body.startswith(("...", "…")):
        return "leading_ellipsis", f"opens with an ellipsis, as a continuation of something unseen: {body[:80]!r}"
    if not _HAS_WORD.search(body):
        return "no_words", f"no word in it: {body[:80]!r}"
    visible = [c for c in body if not c.isspace()]
    share = sum(c.isalnum() for c in visible) / len(visible)
    if share < MIN_WORD_SHARE:
        return "symbols", (f"only {share:.0%} of its characters are letters or digits (min {MIN_WORD_SHARE:.0%}): "
                           f"{body[:80]!r}")
    return None


_OPEN_TAG = re.compile(r"<[A-Za-z/][^<>]*$")  # `... <script src=`: a markup tag never closed


def cut_problem(text: str) -> tuple[str, str] | None:
    """(kind, detail) when the text carries a mark of a cut, else None (a missing end mark is fine)."""
    text = _EMOTICON.sub("", text)  # ":(" opens no bracket
    tag = _OPEN_TAG.search(text.rstrip())
    if tag:
        return "unclosed_tag", f"ends inside a markup tag: {tag.group(0)[:40]!r}"
    c = check_completeness(text)
    if c.reason == "cut_mid_word" and text.split()[-1].isupper():  # "cite sources in APA": an acronym
        return None
    if c.reason in CUT_KINDS:
        return c.reason, c.detail
    if c.reason == "cut_mid_sentence":
        tail = _WORD_END.findall(text.rstrip().lower())
        if tail and tail[-1] in CUT_WORDS and text.rstrip()[-1:].isalnum():
            return c.reason, c.detail
    return None


def string_leaves(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """(dotted path, text) of every string in a record's data."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from string_leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from string_leaves(v, f"{path}[{i}]")


class AcceptanceGate(StatelessGate):
    """`readable` and `complete` on a record: prose fields fully; for structural debris only, the strings of
    2+ words in `debris_fields` (None: every other string of the record)."""

    name = "acceptance"
    stage = "filter"

    def __init__(self, prose_fields: Sequence[str] = (), debris_fields: Sequence[str] | None = None,
                 readable: bool = True, complete: bool = True, view: Callable[[Record], Any] | None = None,
                 allow: Sequence[str] = ()) -> None:
        self.prose_fields = list(prose_fields)
        self.view = view  # what of a record is checked (default: its data)
        self.allow = frozenset(allow)  # readable kinds this technique writes on purpose
        self.debris_fields = None if debris_fields is None else list(debris_fields)  # None: every other string
        self.readable, self.complete = readable, complete

    def problem(self, data: Any) -> tuple[str, str] | None:
        prose = set(self.prose_fields)
        debris = None if self.debris_fields is None else set(self.debris_fields)
        for path, text in string_leaves(data):
            top = path.split("[", 1)[0].split(".", 1)[0]
            is_prose = path in prose or top in prose
            if not is_prose and (len(text.split()) < 2 or (debris is not None and top not in debris)):
                continue
            if self.readable:
                p = readable_problem(text, prose=is_prose, allow=self.allow)
                if p:
                    return f"readable:{p[0]}", f"{path or 'text'}: {p[1]}"
            if self.complete and is_prose:
                p = cut_problem(text)
                if p and p[0] not in self.allow:
                    return f"complete:{p[0]}", f"{path or 'text'}: {p[1]}"
        return None

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        found = self.problem(rec.data if self.view is None else self.view(rec))
        if found:
            return Rejection.of(rec, "filter", found[0], found[1])
        return rec
