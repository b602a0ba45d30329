"""Judge-free checks of one dialogue turn against the conversation before it.

A turn is rejected (and written again, same history) when it is

    empty        nothing but blanks or punctuation
    cut_off      the model ran out of tokens, or the text ends mid-sentence (quality/acceptance.py)
    unreadable   JSON or list debris, runs of punctuation (quality/acceptance.py)
    repeated     (nearly) the same as an earlier turn of the conversation
    role_swap    written in the other speaker's voice: a speaker label ("User:", "Assistant:", "Input:"),
                 an assistant's stock phrase in a user turn ("How can I help you?"), or a plea for help
                 in an assistant turn ("Can you help me ...")
    irrelevant   its MiniLM cosine with the turn before it is below the threshold

`turn_problem` returns (reason, detail) or None; `TurnChecker` carries the threshold and the embedder.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from .acceptance import cut_problem, readable_problem
from .text import jaccard, normalize, shingles

REPEAT_JACCARD = 0.8
_LABEL = re.compile(r"(?:^|\n)\s*(?:user|assistant|human|ai|bot|system|input|output|customer|agent|client|"
                    r"me|you)\s*:", re.IGNORECASE)
# a user does not speak like the one who helps ...
_ASSISTANT_VOICE = re.compile(
    r"\b(?:how (?:can|may) i (?:help|assist)(?: you)?|what can i (?:do|help) (?:for|with) you|"
    r"is there anything else (?:i|that i) can (?:help|do)|i(?:'d| would) be (?:happy|glad) to (?:help|assist)|"
    r"as an ai\b|thank you for (?:contacting|reaching out)|i hope (?:this|that) helps)", re.IGNORECASE)
# ... and the one who helps does not ask for help
_USER_VOICE = re.compile(
    r"\b(?:(?:can|could|would) you (?:please )?help me|i need (?:your )?help|please help me|"
    r"i(?:'m| am) looking for help)\b", re.IGNORECASE)


def role_swap(text: str, role: str) -> str | None:
    """The phrase that puts `text` in the other speaker's voice, or None."""
    m = _LABEL.search(text)
    if m:
        return f"speaker label {m.group(0).strip()!r}"
    m = (_ASSISTANT_VOICE if role == "user" else _USER_VOICE).search(text)
    if m:
        return f"{'an assistant' if role == 'user' else 'a user'}'s phrase {m.group(0)!r}"
    return None


def repeated(text: str, earlier: Sequence[str]) -> int | None:
    """The index of an earlier turn `text` (nearly) repeats, or None."""
    norm = normalize(text)
    mine = shingles(norm, 5)
    for i, other in enumerate(earlier):
        o = normalize(other)
        if o == norm or (mine and jaccard(mine, shingles(o, 5)) >= REPEAT_JACCARD):
            return i
    return None


def turn_problem(text: str, role: str, history: Sequence[dict[str, str]], finish_reason: str | None = None,
                 relevance: float | None = None, min_relevance: float = -1.0) -> tuple[str, str] | None:
    """Why the turn `text` of `role`, after `history` (earlier {role, content}), is rejected; None: kept."""
    if not re.search(r"\w", text or ""):
        return "empty", "the turn has no words"
    if finish_reason == "length":
        return "cut_off", f"cut off by max_tokens: ...{text[-60:]!r}"
    cut = cut_problem(text)
    if cut:
        return "cut_off", f"{cut[0]}: {cut[1]}"
    unreadable = readable_problem(text)
    if unreadable:
        return "unreadable", f"{unreadable[0]}: {unreadable[1]}"
    swap = role_swap(text, role)
    if swap:
        return "role_swap", f"a {role} turn in the other speaker's voice: {swap}"
    k = repeated(text, [m["content"] for m in history])
    if k is not None:
        return "repeated", f"repeats turn {k + 1} ({history[k]['role']}): {history[k]['content'][:80]!r}"
    if relevance is not None and relevance < min_relevance:
        return "irrelevant", (f"cosine {relevance:.2f} with the turn before it (below {min_relevance:g}): "
                              f"{history[-1]['content'][:60]!r} -> {text[:60]!r}")
    return None


class TurnChecker:
    """`turn_problem` with the relevance signal: MiniLM cosine of a turn with the turn before it."""

    def __init__(self, min_relevance: float = 0.1, embedder: Any = None) -> None:
        self.min_relevance = min_relevance
        self._embedder = embedder

    def relevance(self, text: str, previous: str) -> float | None:
        if self.min_relevance <= -1:
            return None
        if self._embedder is None:
            from .embeddings import make_embedder

            self._embedder = make_embedder()
        vecs = self._embedder.embed([text, previous])
        return float(vecs[0] @ vecs[1])

    def check(self, text: str, role: str, history: Sequence[dict[str, str]],
              finish_reason: str | None = None) -> tuple[tuple[str, str] | None, float | None]:
        """(problem or None, the relevance score or None)."""
        first = turn_problem(text, role, history, finish_reason)
        if first is not None or not history:
            return first, None
        rel = self.relevance(text, history[-1]["content"])
        return turn_problem(text, role, history, finish_reason, rel, self.min_relevance), rel
