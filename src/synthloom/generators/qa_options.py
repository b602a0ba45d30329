"""What a QA request offers the model, and in which order: the kind of each slot, the answers
an evidence sentence allows, and how alike two questions are (for the near-duplicate check).

Plain functions of text, used by `qa.py` (the `qa` technique) and tested alone.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ..quality.text import fold, loose
from ..sources.related import terms

KINDS = ("factual", "multi_hop", "unanswerable")
_CUT = re.compile(r"(?:,|;|:| -)\s+")
_COORD = re.compile(r"^(?:and|or|nor)\s", re.I)
_LINK = re.compile(r"^(?:and|but|so|or|which|while)\s+", re.I)
# a tail that starts with a relative word has no subject of its own ("which are wider ...")
_RELATIVE = re.compile(r"^(?:which|who|whom|whose|where)\b", re.I)
# "and"/"or" then a clause's subject: a determiner or a pronoun (English, as the prompts are)
_CLAUSE_AFTER = re.compile(r"^(?:and|or)\s+(?:the|a|an|it|they|you|we|he|she|this|these|those|there|its|their|our|"
                           r"your|his|her|each|every|all|some|no|most|many)\s", re.I)
# a sentence that opens with a phrase of time, place or condition before its subject
_FRONTED = re.compile(r"^(?:after|before|during|when|whenever|if|unless|once|while|since|until|on|in|at|from|for|"
                      r"between|by|with|without|as|because|although|outside|inside)\b", re.I)
LIST_ITEM_WORDS = 4  # a list's items are short: "a throw line, a first aid kit and a radio"


def _list_commas(text: str) -> set[int]:
    """Offsets of the commas that separate the items of a list ("Visa, Mastercard and American Express
    cards"): the text after one, up to the next comma, is a short item followed by another list comma, or
    holds the list's closing "and"/"or" within its first few words; and the serial comma before that
    "and"/"or"."""
    commas = [m.start() for m in re.finditer(",", text)]
    out: set[int] = set()
    for k in range(len(commas) - 1, -1, -1):
        end = commas[k + 1] if k + 1 < len(commas) else len(text)
        words = text[commas[k] + 1:end].split()
        if not words or _COORD.match(" ".join(words)):
            continue
        closing = next((i for i, w in enumerate(words) if w.lower() in ("and", "or")), None)
        # the next comma closes the list too: a list comma, or a serial comma (", and 365 days ...")
        closes = k + 1 < len(commas) and (commas[k + 1] in out or _COORD.match(text[end + 1:].lstrip()))
        if (closing is not None and 0 < closing <= LIST_ITEM_WORDS) or (len(words) <= LIST_ITEM_WORDS and closes):
            out.add(commas[k])
    # the serial comma before the last item ("a throw line, a first aid kit, and a radio")
    out |= {at for k, at in enumerate(commas[1:], 1) if commas[k - 1] in out and _COORD.match(text[at + 1:].lstrip())}
    return out


def _cuts(text: str) -> list[re.Match]:
    """Where a sentence can be cut into answers: at a semicolon, a colon, a dash and a comma, but not inside
    a coordination: never at a bare "and"/"or"/"but" ("Open sessions run on Tuesday" | "and Thursday
    evenings" answers half of what was asked), nor at a comma that is followed by "and"/"or" or that
    separates the items of a list; a comma and "and"/"or" cut only where a clause of its own follows
    ("..., and the rotavator needs a deposit"), not a phrase (", and on Saturday from 10:00 to 14:00")."""
    listed = _list_commas(text)
    return [m for m in _CUT.finditer(text)
            if not (m.group().startswith(",") and (m.start() in listed or (
                _COORD.match(text[m.end():]) and not _CLAUSE_AFTER.match(text[m.end():]))))]


def answer_spans(sentence: str, limit: int = 8) -> list[str]:
    """Answers a factual question can give from one evidence sentence: the sentence, its clauses and
    what follows each clause boundary ("up to 5 dollars per item."), verbatim but for a capital letter.
    No span is half of a coordinated phrase (`_cuts`); a tail that starts with a relative word, and the rest
    of a sentence after its fronted phrase of time, place or condition, are left out."""
    text = " ".join(sentence.split())  # a sentence wrapped in its file is one line as an answer
    spans = [text]
    pieces = []
    start = 0
    cuts = _cuts(text)
    # a fronted phrase of time, place or condition ("After the course, a coach signs off each rower ..."): the
    # clause after it, alone, says something the sentence does not, so neither the rest nor that clause is offered
    fronted = bool(cuts) and cuts[0].group().startswith(",") and bool(_FRONTED.match(text)) and not _COORD.match(
        text[cuts[0].end():])
    for k, m in enumerate(cuts):
        pieces.append(text[start:m.start()])
        if not _RELATIVE.match(text[m.end():]) and not (fronted and k == 0):
            spans.append(text[m.end():])  # the rest of the sentence after this boundary
        start = m.end()
    if not _RELATIVE.match(text[start:]):
        pieces.append(text[start:])
    spans += pieces[:1] + pieces[1 + fronted:]
    out = []
    for span in spans:
        span = _LINK.sub("", span.strip(" ,;:-"))
        if len(terms(span)) < 2 or len(span) < 8 or _RELATIVE.match(span):
            continue
        span = span[0].upper() + span[1:]
        if span not in out:
            out.append(span)
    return out[:limit] or [text]


def _letters(word: str) -> str:
    """``word`` as a regex that matches it in any letter case (llguidance has no case-insensitive flag)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.lower() != c.upper() else re.escape(c) for c in word)


def question_pattern(evidence: Sequence[str], stem_len: int = 5) -> str | None:
    """A JSON-schema ``pattern`` for a question: it must contain one of the evidence's key terms (by its
    first ``stem_len`` letters, any case, at a word start), the same test as the `question_off_evidence`
    check, so a constraining backend cannot write a question about something else; a question mark can only
    close it. Terms with digits are left out (a number of the evidence is what a question asks for, not what
    it names); None when the evidence has no other content word."""
    from .qa_answer_support import GENERIC

    stems = dict.fromkeys(t[:stem_len] for s in evidence for t in terms(s)
                          if t not in GENERIC and not any(c.isdigit() for c in t))
    if not stems:
        return None
    # a stem shorter than stem_len is the whole word: "plot" must not match "plots" (the check reads it so);
    # one question: a question mark ends it (else a model that has not named a term yet rambles on)
    alts = [_letters(t) + ("([^A-Za-z?][^?]*)?" if len(t) < stem_len else "[^?]*") for t in stems]
    return "^([^?]*[^A-Za-z?])?(" + "|".join(alts) + ")\\??$"


def askable_sentences(options: list[str], min_terms: int = 4) -> list[str]:
    """The sentences a question can be asked about: those with at least ``min_terms`` content words (a
    short caption or a label line says too little to be asked about); all of them when none has."""
    return [s for s in options if len(set(terms(s))) >= min_terms] or options


def sentence_pairs(first: list[str], second: list[str]) -> list[tuple[str, str]]:
    """Pairs of a sentence of each passage for a multi-hop question, best linked first (most content words
    shared), else in passage order; a pair of the same sentence (overlapping chunks) is left out."""
    pairs = [(a, b) for a in first for b in second if fold(a) != fold(b)] or [(first[0], second[0])]
    return sorted(pairs, key=lambda p: -len(set(terms(p[0])) & set(terms(p[1]))))


def borrowed_terms(question: str, example_terms: set[str], kb_terms: set[str]) -> list[str]:
    """Key terms of a question that come from the prompt's worked examples and occur nowhere in the
    knowledge base (``kb_terms``: its words and their five-letter stems): a question about the example's
    subject ("a 3D printer ... for a whole afternoon") is a copy, however it is reworded."""
    return [t for t in dict.fromkeys(terms(question)) if t in example_terms and t not in kb_terms
            and t[:5] not in kb_terms]


def borrowed_names(question: str, example_names: set[str], kb_terms: set[str]) -> list[str]:
    """The worked examples' names and coined terms (``distinctive_terms``) a question uses that the knowledge
    base lacks, written as a name (capitalised, or with digits): one is enough to tell a copy ("How many locker
    rooms are there in Harbor County?"); "the county" in lower case is a generic word."""
    written = {w.lower().strip("'-") for w in _WORDISH.findall(question) if w[0].isupper() or any(c.isdigit() for c in w)}
    return [t for t in dict.fromkeys(terms(question)) if t in written and t in example_names and t not in kb_terms
            and t[:5] not in kb_terms]


_PIECE = re.compile(r"(?<=[.!?:;])\s+|\n+")
_WORDISH = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
# capitalised in English wherever they stand, and as open to any knowledge base as "weekend"
_CALENDAR = set("""monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december""".split())


def distinctive_terms(texts: Sequence[str]) -> set[str]:
    """The names and coined terms of ``texts`` (lower-cased): words written with a capital where a sentence
    or a line does not start ("Harbor County", "Eastside") and words mixing digits with letters ("3D"). A
    question naming one that the knowledge base lacks asks about a worked example's subject; generic words
    ("items", "late") are not among them."""
    out: set[str] = set()
    for text in texts:
        for piece in _PIECE.split(text):
            words = _WORDISH.findall(piece.lstrip("#>*- "))
            for w in words[1:]:
                if (len(w) > 2 and w[0].isupper() and w[1:2].islower()) or (
                        any(c.isdigit() for c in w) and any(c.isalpha() for c in w)):
                    out.add(w.lower().strip("'-"))
    return out - _CALENDAR


def evidence_key(row: Mapping) -> tuple:
    """What two pairs share when they cite the same evidence for the same answer (case and spacing aside)."""
    return tuple(fold(str(e)) for e in row.get("evidence") or []), fold(str(row.get("answer", "")))


def answers_taken(accepted: Sequence[Any]) -> dict[tuple[str, ...], set[str]]:
    """The answers accepted pairs gave, by the evidence they cite (case and spacing aside)."""
    out: dict[tuple[str, ...], set[str]] = {}
    for r in accepted:
        if isinstance(r.data, dict) and r.data.get("evidence"):
            ev, answer = evidence_key(r.data)
            out.setdefault(ev, set()).add(answer)
    return out


def open_answers(evidence: Sequence[str], answers: list[str], taken: Mapping[tuple[str, ...], set[str]]) -> list[str]:
    """The ``answers`` no accepted pair citing ``evidence`` gave: one sentence gives several distinct pairs
    (its clauses) before a pair repeats one (`dedup:same_evidence`); empty when every one is taken."""
    used = taken.get(tuple(fold(e) for e in evidence), set())
    return [a for a in answers if fold(a) not in used]


def next_uncited(planned: str, options: list[str], accepted: Sequence[Any]) -> str:
    """The planned evidence sentence, or when an accepted factual pair already cites it, the next of
    ``options`` (in the plan's cycle) that none cites; when every sentence is cited, the next (from the
    planned one on) with an answer span no accepted pair gave; the planned one when none has."""
    taken = answers_taken([r for r in accepted if isinstance(r.data, dict) and r.data.get("kind") == "factual"])
    if (fold(planned),) not in taken:
        return planned
    at = options.index(planned) if planned in options else 0
    cycle = [options[(at + k) % len(options)] for k in range(len(options))]
    for s in cycle[1:]:
        if (fold(s),) not in taken:
            return s
    for s in cycle:
        if open_answers([s], answer_spans(s), taken):
            return s
    return planned


def capacity_notes(target: int, schedule: Sequence[str], capacity: Mapping[str, int]) -> list[str]:
    """A line per kind whose share of ``target`` (the kinds cycle through ``schedule``) is more than the
    distinct pairs the knowledge base gives (``capacity``), with the fix."""
    cycles, rest = divmod(target, len(schedule))
    out = []
    for kind, cap in capacity.items():
        want = cycles * schedule.count(kind) + list(schedule[:rest]).count(kind)
        if want > cap:
            out.append(f"qa: a count of {target} asks for about {want} {kind} pairs, but the knowledge base gives "
                       f"at most {cap} distinct ones (evidence sentence and answer); add documents or lower the "
                       f"count (-n) to about {target * cap // want}")
    return out


def factual_capacity(sentences: Sequence[str]) -> int:
    """How many distinct factual pairs (evidence sentence, answer span) ``sentences`` can give."""
    return len({(fold(s), fold(a)) for s in sentences for a in answer_spans(s)})


def same_evidence(row: Mapping, accepted: Sequence[Any]) -> str | None:
    """Why a pair citing the same evidence with the same answer as an accepted pair adds nothing to an
    evaluation set, however its question is worded; None when no accepted pair does."""
    if not row.get("evidence"):
        return None
    mine = evidence_key(row)
    for rec in accepted:
        if isinstance(rec.data, dict) and rec.data.get("evidence") and evidence_key(rec.data) == mine:
            return f"the accepted pair {rec.data.get('question')!r} cites the same evidence with the same answer"
    return None


def multi_hop_answers(first: list[str], second: list[str], limit: int = 240, yes_no: bool | None = None) -> list[str]:
    """Answers a multi-hop question can give: a span of a sentence of the second passage (where the
    hop lands), alone (``yes_no`` False), after "Yes: " / "No: " (True) or either (None). Free text from a
    small model did not say what its two quotes say (6 of 6 multi-hop answers on the bundled model failed
    the support check); the answer support check then keeps only spans of the quotes chosen."""
    spans = [span for sentence in second for span in answer_spans(sentence, limit=4)]
    prefixed = [f"{yn}: {span[0].lower()}{span[1:]}" for yn in ("Yes", "No") for span in spans]
    out = spans * (yes_no is not True) + prefixed * (yes_no is not False)
    return list(dict.fromkeys(out))[:limit] or [s for s in second[:1]]


# how an English yes/no question starts (the prompts are English): a "Yes:"/"No:" answer needs one
_YES_NO_START = ("is are am was were do does did can could will would shall should may might must has have had "
                 "isn't aren't don't doesn't can't won't").split()
YES_NO_ANSWER = re.compile(r"^(?:Yes|No): ")  # the prefix multi_hop_answers writes


def asks_yes_no(phrasing: str) -> bool:
    """Whether the recipe's phrasing asks for a yes/no question ("a yes/no question", "yes or no")."""
    return bool(re.search(r"\byes\s*(?:/|or)\s*no\b", phrasing, re.I))


def yes_no_question(question: str) -> bool:
    """Whether a question is one a bare yes or no answers: it starts with an auxiliary verb."""
    words = question.split()
    return bool(words) and words[0].lower().strip(",") in _YES_NO_START


def yes_no_pattern(pattern: str | None) -> str:
    """``pattern`` (a question's key-term pattern) for a question that starts with an auxiliary verb."""
    start = "(" + "|".join(_letters(w[0]) + re.escape(w[1:]) for w in _YES_NO_START) + ") "
    return "^" + start + (pattern[1:] if pattern else "[^?]*\\??$")


def kind_schedule(shares: Mapping[str, float], length: int = 1000) -> list[str]:
    """Kinds in a smooth weighted round-robin: every prefix is close to the shares."""
    weights = {k: float(v) for k, v in shares.items() if v > 0}
    total = sum(weights.values())
    current = {k: 0.0 for k in weights}
    out = []
    for _ in range(length):
        for k, w in weights.items():
            current[k] += w
        best = max(current, key=lambda k: (current[k], -KINDS.index(k)))
        current[best] -= total
        out.append(best)
    return out


def shingles(text: str, n: int = 3) -> frozenset[str]:
    t = loose(text)
    return frozenset(t[i:i + n] for i in range(max(len(t) - n + 1, 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
