"""What a classification text must not be, read from its own words: the writer's instructions repeated
(`instruction_phrases`, `repeated_phrase`), a label's name as a heading (`heading_prefix`), a near copy of an
example (`near_copy`), too many sentences (`sentences`), the descriptions' voice ("The student asks ...":
`describes_writer`). The checks themselves are in
`ClassificationGenerator.candidate`."""
from __future__ import annotations

import re
from typing import Any

from ..quality.reference import ngrams, words


def human(name: str) -> str:
    """A label name as words (`damaged_item` -> `damaged item`): the writer sees words, so it writes words,
    not the identifier."""
    return " ".join(name.replace("_", " ").replace("-", " ").split())


_SLOT = "\u2063"  # stands in for what the user wrote when the request template is rendered for its own words


def instruction_phrases(prompt: Any, axes: dict[str, list[str]]) -> set[tuple[str, ...]]:
    """The request template's own words as phrases a message never holds: the word 3-grams of each fixed
    stretch of five or more words between the user's words ("write one message", "message with label"), a
    stretch of three or four words whole ("but it is clearly"), and a stretch too short to tell alone
    ("Make it") with the first words of an attribute value that follows it ("make it a few", "make it casual").
    Read from the template, so an overridden template is read too."""
    shown = {"name": _SLOT, "description": _SLOT}
    fixed: set[tuple[str, ...]] = set()
    short: set[tuple[str, ...]] = set()
    for labels in ([shown], [shown, shown]):
        rendered = prompt.render(task=_SLOT, labels=labels, attributes={"a": _SLOT}, confuser=shown,
                                 context={_SLOT: _SLOT})
        for part in rendered.split(_SLOT):
            w = words(part)
            if len(w) >= 5:
                fixed |= ngrams(w, 3)
            elif len(w) >= 3:  # "but it is clearly" whole: its 3-gram "but it is" is any writer's
                fixed.add(tuple(w))
            elif w:
                short.add(tuple(w))
    for value in (v for values in axes.values() for v in values):
        rendered = prompt.render(task=_SLOT, labels=[shown], attributes={"a": value}, confuser=None)
        for part in rendered.split(_SLOT):
            w = words(part)
            fixed |= {tuple(w[:len(s) + 2]) for s in short if tuple(w[:len(s)]) == s and len(w) > len(s)}
    return fixed


def heading_prefix(text: str, names: list[str]) -> str | None:
    """The label name a text opens with as a heading ("Price: ...", "book lesson - ..."), plural aside, or None."""
    m = re.match(r"\s*([^:\-\n]{1,40}?)\s*(?::|\s-)\s", text)
    if not m:
        return None
    head = _stems(m.group(1))
    for name in names:
        stems = _stems(human(name))
        if head and (head == stems or head == stems[:1]):
            return name
    return None


def _stems(s: str) -> list[str]:
    return [w.removesuffix("s") for w in words(s)]


def repeated_phrase(text: str, phrases: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first of `phrases` that the text holds as consecutive words, or None."""
    w = words(text)
    for n in sorted({len(p) for p in phrases}):
        for i in range(len(w) - n + 1):
            if tuple(w[i:i + n]) in phrases:
                return tuple(w[i:i + n])
    return None


def near_copy(text: str, examples: list[str]) -> tuple[float, str]:
    """(share of an example's words that the text holds in the example's order, that example): the highest
    over the examples. Word-level longest common subsequence, so a changed or added word costs one word, not
    the several n-grams that cross it."""
    from ..llm.runaway import in_order_share

    best, nearest = 0.0, ""
    mine = words(text)
    for example in examples:
        share = in_order_share(mine, words(example))
        if share > best:
            best, nearest = share, example
    return best, nearest


def sentences(text: str) -> int:
    """Sentences in a text: runs of . ! ? before a space or the end (a text without one is one sentence)."""
    return max(1, len(re.findall(r"[.!?]+(?=\s|$)", text.strip())))


OPENING_WORDS = 2  # "The student ...": a description's subject


def description_openings(descriptions: list[str], messages: list[str]) -> set[tuple[str, ...]]:
    """The first words of the descriptions ("the student", "the customer") that no message opens with
    (the label set's examples and the borrowed worked examples). A description written as "The student
    asks ..." describes the person; a text that opens the same way describes them too ("The student has
    enrolled in the course and wants to add or drop one.") instead of being their message. An opening a
    message also uses ("I want") is never taken."""
    said = {_opening(m) for m in messages}
    return {o for d in descriptions if len(o := _opening(d)) == OPENING_WORDS} - said


def describes_writer(text: str, openings: set[tuple[str, ...]]) -> str | None:
    """The description opening a text starts with, as words, or None."""
    first = _opening(text)
    return " ".join(first) if first in openings else None


def _opening(text: str) -> tuple[str, ...]:
    """The first words, a possessive aside ("The student's name" opens like "The student asks")."""
    return tuple(re.sub(r"['’]s$", "", w) for w in words(text)[:OPENING_WORDS])


REPEAT_WORDS = 3  # a word 3-gram said twice ...
REPEAT_WITHIN = 30  # ... in a text of at most this many words: none of 573 hand-written messages (3-19 words)


def repeats_itself(text: str) -> str | None:
    """The first run of `REPEAT_WORDS` words a short text says twice ("on the wrong floor - I live on the wrong
    floor", "I'm sorry, I forgot to take ... I'm sorry, I forgot to take ..."), or None. None of the 573
    hand-written messages of the benchmarks (3 to 19 words) repeats a word 3-gram, while 19 of 336 written
    texts read by hand did, 15 of them bad and none good. A text of more than `REPEAT_WITHIN` words is left to
    `readable`'s loop check (12 words or more, a third of its 3-grams repeated): a longer text, a review,
    may say "the battery life" twice. The generator does not look when an example of the label set repeats
    itself (`repeats_itself(example)`): the user's data says it is their texts' way."""
    w = words(text)
    if len(w) > REPEAT_WITHIN:
        return None
    seen: set[tuple[str, ...]] = set()
    for i in range(len(w) - REPEAT_WORDS + 1):
        gram = tuple(w[i:i + REPEAT_WORDS])
        if gram in seen:
            return " ".join(gram)
        seen.add(gram)
    return None
