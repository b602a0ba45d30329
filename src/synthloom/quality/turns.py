"""Judge-free checks of one dialogue turn against the conversation before it.

A turn is rejected (and written again, same history) when it is

    empty        nothing but blanks or punctuation
    cut_off      the model ran out of tokens, or the text ends mid-sentence (quality/acceptance.py)
    unreadable   JSON or list debris, runs of punctuation (quality/acceptance.py)
    fragment     one item of a list ("1. ...", "- ...") instead of a turn
    looping      one sentence of four words or more said twice in the turn
    copied_example  a run of five words or more from a turn of the recipe's example conversation
    repeated     (nearly) the same as an earlier turn, or a run of eight words or more from one
    echo         a turn of four words or more whose words are (nearly) all in the turn it answers: it says
                 the other speaker's line back ("Good morning, do you have e-bikes?" after "Good morning,
                 do you have electric bicycles?")
    role_swap    written in the other speaker's voice: a speaker label ("User:", "Assistant:", "Input:"),
                 an assistant's stock phrase in a user turn ("How can I help you?"), or a plea for help
                 in an assistant turn ("Can you help me ...")
    irrelevant   its MiniLM cosine with the turn before it (for the first user turn: with the goal) is
                 below the threshold

`turn_problem` returns (reason, detail) or None; `TurnChecker` carries the threshold and the embedder.
"""
from __future__ import annotations

import re
from typing import Any, Collection, Sequence

from .acceptance import cut_problem, readable_problem
from .text import jaccard, normalize, shingles

REPEAT_JACCARD = 0.8
_LABEL = re.compile(r"(?:^|\n)\s*(?:user|assistant|human|ai|bot|system|input|output|customer|agent|client|"
                    r"me|you|person|answer|question|reply|response)\s*:", re.IGNORECASE)
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


_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*\u2022])\s+")


def shared_run(text: str, other: str, n: int) -> str | None:
    """A run of `n` words `text` shares with `other` (case and punctuation aside), or None."""
    a, b = normalize(text).split(), normalize(other).split()
    grams = {tuple(b[i:i + n]) for i in range(len(b) - n + 1)}
    for i in range(len(a) - n + 1):
        if tuple(a[i:i + n]) in grams:
            return " ".join(a[i:i + n])
    return None


ECHO_SHARE = 0.7


def echo_share(text: str, previous: str) -> float:
    """The share of the turn's words that the turn before it holds (0 for a turn under four words)."""
    mine, theirs = normalize(text).split(), set(normalize(previous).split())
    if len(mine) < 4:
        return 0.0
    return sum(w in theirs for w in mine) / len(mine)


def looping(text: str) -> str | None:
    """A sentence of four words or more that the turn says twice, or None."""
    seen = set()
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        norm = normalize(sentence)
        if len(norm.split()) >= 4:
            if norm in seen:
                return sentence.strip()
            seen.add(norm)
    return None


def turn_problem(text: str, role: str, history: Sequence[dict[str, str]], finish_reason: str | None = None,
                 relevance: float | None = None, min_relevance: float = -1.0,
                 examples: Sequence[str] = (), off: Collection[str] = ()) -> tuple[str, str] | None:
    """Why the turn `text` of `role`, after `history` (earlier {role, content}), is rejected; None: kept.
    `examples`: the turns of the recipe's example conversations (a copy of one is rejected). `off`: the
    acceptance checks the recipe switched off (`complete`: no cut_off by marks; `readable`: no unreadable)."""
    if not re.search(r"\w", text or ""):
        return "empty", "the turn has no words"
    if finish_reason == "length":
        return "cut_off", f"cut off by max_tokens: ...{text[-60:]!r}"
    cut = None if "complete" in off else cut_problem(text)
    if cut:
        return "cut_off", f"{cut[0]}: {cut[1]}"
    unreadable = None if "readable" in off else readable_problem(text)
    if unreadable and unreadable[0] == "repetition_loop":  # a turn's loop keeps the turn's own name
        return "looping", unreadable[1]
    if unreadable:
        return "unreadable", f"{unreadable[0]}: {unreadable[1]}"
    swap = role_swap(text, role)
    if swap:
        return "role_swap", f"a {role} turn in the other speaker's voice: {swap}"
    if _LIST_ITEM.match(text):
        return "fragment", f"one item of a list, not a turn: {text[:80]!r}"
    loop = looping(text)
    if loop:
        return "looping", f"says twice: {loop[:80]!r}"
    for ex in examples:
        run = shared_run(text, ex, 5)
        if run:
            return "copied_example", f"copies {run!r} from the example's turn {ex[:80]!r}"
    k = repeated(text, [m["content"] for m in history])
    if k is not None:
        return "repeated", f"repeats turn {k + 1} ({history[k]['role']}): {history[k]['content'][:80]!r}"
    for k, m in enumerate(history):
        run = shared_run(text, m["content"], 8)
        if run:
            return "repeated", f"repeats {run!r} from turn {k + 1} ({m['role']})"
    if history and echo_share(text, history[-1]["content"]) >= ECHO_SHARE:
        return "echo", f"says the turn before it back: {history[-1]['content'][:60]!r} -> {text[:60]!r}"
    if relevance is not None and relevance < min_relevance:
        before = history[-1]["content"] if history else "the goal"
        return "irrelevant", (f"cosine {relevance:.2f} with {'the turn before it' if history else 'the goal'} "
                              f"(below {min_relevance:g}): {before[:60]!r} -> {text[:60]!r}")
    return None


class TurnChecker:
    """`turn_problem` with the relevance signal: MiniLM cosine of a turn with the turn before it."""

    def __init__(self, min_relevance: float = 0.1, embedder: Any = None, examples: Sequence[str] = (),
                 min_goal_relevance: float | None = None) -> None:
        self.min_relevance = min_relevance
        # a first turn against the goal: it should say what the user wants (default: min_relevance)
        self.min_goal_relevance = min_relevance if min_goal_relevance is None else min_goal_relevance
        self._embedder = embedder
        self.examples = tuple(examples)
        self.off: frozenset[str] = frozenset()  # acceptance checks switched off (turn_problem's `off`)
        self._vectors: dict[str, Any] = {}

    def with_examples(self, examples: Sequence[str]) -> "TurnChecker":
        """The same checker (thresholds, embedder, embeddings so far) with other example turns."""
        twin = TurnChecker(self.min_relevance, self._embedder, examples, self.min_goal_relevance)
        twin._vectors = self._vectors
        twin.off = self.off
        return twin

    def relevance(self, text: str, previous: str) -> float | None:
        if self.min_relevance <= -1:
            return None
        if self._embedder is None:
            from .embeddings import make_embedder

            self._embedder = make_embedder()
        missing = [t for t in dict.fromkeys((text, previous)) if t not in self._vectors]
        if missing:
            if len(self._vectors) > 4096:  # a turn is measured against the next one: old ones are not asked again
                self._vectors.clear()
            self._vectors.update(zip(missing, self._embedder.embed(missing)))
        return float(self._vectors[text] @ self._vectors[previous])

    def check(self, text: str, role: str, history: Sequence[dict[str, str]], finish_reason: str | None = None,
              goal: str = "") -> tuple[tuple[str, str] | None, float | None]:
        """(problem or None, the relevance score or None); a first turn is measured against `goal`."""
        first = turn_problem(text, role, history, finish_reason, examples=self.examples, off=self.off)
        if first is not None or not (history or goal):
            return first, None
        rel = self.relevance(text, history[-1]["content"] if history else goal)
        floor = self.min_relevance if history else self.min_goal_relevance
        return turn_problem(text, role, history, finish_reason, rel, floor, self.examples, self.off), rel
