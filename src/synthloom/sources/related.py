"""Which chunks are related: shared key terms (entities, rare words), weighted by rarity.

Used to pair chunks for multi-hop questions and to find the chunks most likely
to answer a question (so an "unanswerable" question is checked against the
knowledge base's best candidates, not only against the chunk it was written from).
An inverted index keeps pairing near-linear in the number of chunks.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Sequence

from .documents import Chunk

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-']+|\d+(?:[.,]\d+)?")
_SENT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")
# a period that ends an abbreviation, not a sentence: initials and dotted forms ("J.", "e.g.", "a.m."), and a
# capitalised word of consonants only ("Dr.", "Mrs.", "St."): a word cannot be one, a short title can
_ABBREV = re.compile(r"(?:\b[A-Za-z]\.(?:[A-Za-z]\.)*|\b[A-Z][b-df-hj-np-tv-xz]{1,3}\.)$")


def _split_sentences(line: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _SENT.finditer(line):
        if _ABBREV.search(line[start:m.start()]):
            continue
        out.append(line[start:m.start()])
        start = m.end()
    out.append(line[start:])
    return out


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each every few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves may might must
    shall one two three per within without across via get gets got use used using can't don't""".split()
)


def terms(text: str) -> list[str]:
    """Content words, lower-cased, stopwords and one-letter words dropped."""
    out = []
    for w in _WORD.findall(text):
        lw = w.lower().strip("'-")
        if len(lw) > 2 and lw not in STOPWORDS or any(ch.isdigit() for ch in lw):
            out.append(lw)
    return out


def _logical_lines(para: str) -> list[str]:
    """A paragraph's lines with hard-wrapped continuations joined (keeping the newline, so that a
    sentence stays a verbatim substring of its chunk); list items, headings and table rows stay apart.
    Without this, a sentence wrapped in the file was offered as evidence cut at the line end
    ("... prizes for the heaviest marrow, the longest")."""
    out: list[str] = []
    for line in para.split("\n"):
        starts_item = re.match(r"\s*([-*•#|>]|\d+[.)]\s)", line) is not None
        if out and line.strip() and not starts_item and out[-1].strip() and not out[-1].lstrip().startswith(("#", "|")):
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def sentences(text: str, min_chars: int = 25, limit: int = 40) -> list[str]:
    """Sentences (and list lines) of a chunk, headings and fragments dropped, in order, without repeats."""
    out: list[str] = []
    seen: set[str] = set()
    for para in re.split(r"\n\s*\n", text):
        for line in _logical_lines(para):
            line = line.strip().lstrip("-*• ").strip()
            if not line or line.startswith("#"):
                continue
            for s in _split_sentences(line):
                s = s.strip()
                if len(s) >= min_chars and s not in seen:
                    seen.add(s)
                    out.append(s)
                    if len(out) >= limit:
                        return out
    return out


class TermIndex:
    """Chunks indexed by their key terms, with inverse document frequencies."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = list(chunks)
        self.bags: list[Counter[str]] = [Counter(terms(c.text)) for c in self.chunks]
        df: Counter[str] = Counter()
        for bag in self.bags:
            df.update(bag.keys())
        n = max(len(self.chunks), 1)
        self.idf = {t: math.log(1 + n / d) for t, d in df.items()}
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, bag in enumerate(self.bags):
            for t in bag:
                self.postings[t].append(i)
        self._df = df

    def search(self, text: str, k: int = 3, exclude: Sequence[int] = ()) -> list[tuple[int, float]]:
        """The k chunks that share the most (rarity-weighted) terms with text, best first."""
        q = set(terms(text))
        scores: Counter[int] = Counter()
        for t in q:
            for i in self.postings.get(t, ()):
                scores[i] += self.idf[t]
        for i in exclude:
            scores.pop(i, None)
        return [(i, s) for i, s in scores.most_common(k) if s > 0]

    def related_pairs(self, limit: int | None = None, min_shared: int = 2) -> list[tuple[int, int, float, list[str]]]:
        """(i, j, score, shared terms) for chunk pairs from different places that share rare terms, best first.

        A term shared by more than a third of the chunks (or more than 50) says nothing about relatedness and is ignored; pairs
        of neighbouring chunks of one document (which may share overlap text) are left out.
        """
        n = len(self.chunks)
        cap = max(3, min(n // 3, 50))
        scores: dict[tuple[int, int], float] = defaultdict(float)
        shared: dict[tuple[int, int], list[str]] = defaultdict(list)
        for t, posting in self.postings.items():
            if len(posting) < 2 or self._df[t] > cap:
                continue
            for a_pos, a in enumerate(posting):
                for b in posting[a_pos + 1:]:
                    ca, cb = self.chunks[a], self.chunks[b]
                    if ca.doc_id == cb.doc_id and abs(ca.index - cb.index) <= 1:
                        continue
                    scores[(a, b)] += self.idf[t]
                    shared[(a, b)].append(t)
        pairs = [(a, b, s, sorted(shared[(a, b)])) for (a, b), s in scores.items()
                 if len(shared[(a, b)]) >= min_shared]
        # prefer pairs across documents, then by score; stable order for equal scores
        pairs.sort(key=lambda p: (self.chunks[p[0]].doc_id == self.chunks[p[1]].doc_id, -p[2], p[0], p[1]))
        return pairs[:limit] if limit else pairs
