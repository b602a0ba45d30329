"""Answer-support checks that do not depend on the judge being a strong model.

- An answer's content must come from its evidence: every number and every name in it occurs in
  the evidence quotes, and its other content words do too (a word counts when it or its stem, the
  first five letters, occurs there), with one word in five of slack for longer answers. "Yes: the
  second bike is a rental bike" over evidence that never says "rental" fails, whatever a 270M judge
  says.
- A question shares at least one key term with its evidence.
- An unanswerable question must ask about something the knowledge base does not mention: at least
  one of its key terms (content words beyond generic question words) occurs nowhere in it.
"""
from __future__ import annotations

import re
from typing import Iterable

from ..records import Problem
from ..sources.related import terms

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<![.!?:;]\s)(?<!^)\b[A-Z][a-zA-Z0-9&'-]+")
_YES_NO = {"yes", "no", "not"}
# words a question uses whatever it asks about: not key terms of its subject
GENERIC = set("""
many much long often soon get got use used using way ways need needs happen happens happened possible
tell know want able allowed kind type sort thing things time times someone something anyone anything
there their what which when where why how who whom whose does did doing done can could would should
""".split())


def stem(word: str) -> str:
    return word[:5]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".0") or "0" for n in _NUMBER.findall(text)}


def unsupported_words(answer: str, evidence: Iterable[str]) -> tuple[list[str], list[str]]:
    """(strict misses: numbers and names, other content words) of ``answer`` not found in ``evidence``."""
    ev_text = " ".join(evidence)
    ev_terms = set(terms(ev_text))
    ev_stems = {stem(t) for t in ev_terms}
    ev_lower = ev_text.lower()

    def found(word: str) -> bool:
        w = word.lower()
        return w in ev_terms or stem(w) in ev_stems or any(t.startswith(w) for t in ev_terms if len(w) >= 3)

    strict = [n for n in _numbers(answer) if n not in _numbers(ev_text)]
    for name in _NAME.findall(answer):
        if name.lower() not in ev_lower and not found(name):
            strict.append(name)
    loose = [t for t in terms(answer) if t not in _YES_NO and not any(c.isdigit() for c in t) and not found(t)]
    return strict, loose


def answer_support_problem(answer: str, evidence: list[str]) -> Problem | None:
    """("answer_not_in_evidence", detail) when the answer says what its evidence does not; else None."""
    strict, loose = unsupported_words(answer, evidence)
    if strict:
        return Problem("answer_not_in_evidence", f"{', '.join(dict.fromkeys(strict))} in the answer but not in its "
                                                 f"evidence: {answer[:120]!r}")
    n = len([t for t in terms(answer) if t not in _YES_NO])
    if len(loose) > n // 5:
        return Problem("answer_not_in_evidence", f"the evidence does not say {', '.join(dict.fromkeys(loose))}: "
                                                 f"{answer[:120]!r}")
    return None


def key_terms(question: str) -> list[str]:
    return [t for t in dict.fromkeys(terms(question)) if t not in GENERIC]


def answerable_problem(question: str, kb_terms: set[str]) -> Problem | None:
    """("answerable", detail) when every key term of an 'unanswerable' question occurs in the knowledge
    base (``kb_terms``: its content words and their stems); else None."""
    keys = key_terms(question)
    if not keys:
        return None
    absent = [t for t in keys if t not in kb_terms and stem(t) not in kb_terms]
    if absent:
        return None
    return Problem("answerable", f"every key term of the question ({', '.join(keys[:8])}) occurs in the knowledge "
                                 "base; an unanswerable question asks about something it does not mention")


def kb_vocabulary(texts: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for text in texts:
        for t in terms(text):
            out.add(t)
            out.add(stem(t))
    return out


def question_meets_evidence(question: str, evidence: Iterable[str]) -> bool:
    """Whether a question shares at least one key term (or its stem) with its evidence: a question
    about one topic over a sentence about another is not answered by it."""
    ev = kb_vocabulary(evidence)
    return any(t in ev or stem(t) in ev for t in key_terms(question))


# "What is a sky guide?": a question that asks what a thing is (a noun phrase after "what is/are", with an
# article or of two words or more; its head ends at the first preposition: "the cost of membership" asks for
# a cost)
_WHAT_IS = re.compile(r"^what(?:\s+is|\s+are|'s)\s+(?P<det>(?:the|a|an)\s+)?(?P<x>[^?]+?)\s*\?$", re.I)
_PREPOSITION = re.compile(r"\s+(?:of|for|on|in|at|to|with|from|by|about|during|after|before)\s+.*$", re.I)
_DETERMINER = r"\b(?:the|a|an|its|their|our|your|this|that|each|every|one|[a-z]+'s)\s+"
_DEFINES = r"\b(?:is|are|was|were|means|mean|refers to|stands for)\b"


def _head_phrase(question: str) -> str | None:
    m = _WHAT_IS.match(" ".join(question.split()))
    if m is None:
        return None
    head = _PREPOSITION.sub("", m.group("x")).strip()
    words = head.split()
    if not words or (len(words) < 2 and not m.group("det")):
        return None  # "What is allowed ...?" asks for no thing
    return head


def undefined_term_problem(question: str, answer: str, evidence: Iterable[str]) -> Problem | None:
    """("answer_does_not_define", detail) when a "What is X?" question names a thing X of its evidence and
    the answer does not say what X is: it only mentions it ("What is a sky guide?" -> "A printed sky guide
    each season."). The answer says what X is when X (a plural of its last word allowed) is followed, within
    a few words, by is/are/means. A one-word X counts only as the evidence writes it after a determiner, as a
    thing: "cost" in "What is the cost of a lesson?" is not the verb of "Lessons cost 6 pounds"."""
    head = _head_phrase(question)
    if head is None:
        return None
    words = [re.escape(w) for w in head.split()]
    if len(words) > 1:
        words[-1] = words[-1].removesuffix("s") + "(?:s|es)?"
    named = r"\b" + r"\s+".join(words) + r"\b"
    # one word names a thing where a determiner comes before it ("a sky guide"), not in "Lessons cost 6 pounds"
    where = named if len(words) > 1 else _DETERMINER + named
    if not re.search(where, " ".join(evidence), re.I):
        return None
    if re.search(named + r"[^.;:!?]{0,40}?" + _DEFINES, answer, re.I):
        return None
    return Problem("answer_does_not_define", f"the question asks what {head} is; the answer names it but does not "
                                             f"say what it is: {question!r} / {answer[:80]!r}")
