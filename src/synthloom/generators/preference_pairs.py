"""Scores to pairs, as plain functions: a response's score from its judge ratings, signals and reward, and
(chosen, rejected) pairs by a rule, with every pair that is not formed named with its reason.

    best_vs_worst      the highest-scored response against the lowest (one pair per prompt)
    best_vs_random     the highest against a random other (one pair per prompt)
    all_above_margin   every two responses whose scores differ by at least the margin

A pair whose scores are equal is a `tie`, one whose gap is below the margin `under_margin`, one whose two
texts are the same `same_text`; a prompt with fewer than two scored responses gives `too_few_scored`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

EPS = 1e-9


@dataclass(frozen=True)
class Scored:
    """One response with its score (None: it could not be scored) and the parts the score came from."""

    index: int
    strategy: str
    text: str
    score: float | None
    parts: Mapping[str, float | None] = field(default_factory=dict)  # judge, signals, reward (each 0-1, reward raw)


@dataclass(frozen=True)
class Pair:
    chosen: Scored
    rejected: Scored

    @property
    def margin(self) -> float:
        return float(self.chosen.score) - float(self.rejected.score)  # type: ignore[arg-type]

    def agrees(self, part: str) -> bool | None:
        """Does `part` (signals, reward, judge) also rank chosen above rejected? None when either lacks it or it ties."""
        a, b = self.chosen.parts.get(part), self.rejected.parts.get(part)
        if a is None or b is None or abs(a - b) < EPS:
            return None
        return a > b


@dataclass(frozen=True)
class Dropped:
    reason: str  # tie, under_margin, same_text, too_few_scored
    detail: str
    pair: Pair | None = None


def judge_score(ratings: Mapping[str, int | None]) -> float | None:
    """The mean rating over the aspects, scaled from 1-5 to 0-1 (None when any aspect is missing)."""
    vals = list(ratings.values())
    if not vals or any(v is None for v in vals):
        return None
    return (sum(vals) / len(vals) - 1) / 4  # type: ignore[arg-type]


def signals_score(signals: Mapping[str, float | None]) -> float | None:
    """The mean of the signals that have a value (each 0-1)."""
    vals = [v for v in signals.values() if v is not None]
    return sum(vals) / len(vals) if vals else None


def combine(parts: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """The weighted sum of the parts named in `weights` (None when a weighted part has no value)."""
    total = 0.0
    for name, w in weights.items():
        if not w:
            continue
        v = parts.get(name)
        if v is None:
            return None
        total += w * v
    return round(total, 6)


def _check(pair: Pair, margin: float) -> Dropped | None:
    gap = pair.margin
    if pair.chosen.text.strip() == pair.rejected.text.strip():
        return Dropped("same_text", f"{pair.chosen.strategy} and {pair.rejected.strategy} wrote the same text", pair)
    if abs(gap) < EPS:
        return Dropped("tie", f"{pair.chosen.strategy} and {pair.rejected.strategy} both scored "
                              f"{pair.chosen.score:.3f}", pair)
    if gap < margin - EPS:
        return Dropped("under_margin", f"{pair.chosen.strategy} {pair.chosen.score:.3f} vs {pair.rejected.strategy} "
                                       f"{pair.rejected.score:.3f}: gap {gap:.3f} < margin {margin:g}", pair)
    return None


def form_pairs(responses: Sequence[Scored], rule: str, margin: float,
               rng: random.Random | None = None) -> tuple[list[Pair], list[Dropped]]:
    """Pairs by `rule`; every candidate pair not kept is returned with its reason."""
    scored = [r for r in responses if r.score is not None]
    if len(scored) < 2:
        return [], [Dropped("too_few_scored", f"{len(scored)} of {len(responses)} responses were scored; a pair "
                                              "needs two")]
    ranked = sorted(scored, key=lambda r: (-float(r.score), r.index))  # type: ignore[arg-type]
    if rule == "all_above_margin":
        candidates = [Pair(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1:]]
    elif rule == "best_vs_worst":
        candidates = [Pair(ranked[0], ranked[-1])]
    elif rule == "best_vs_random":
        candidates = [Pair(ranked[0], (rng or random.Random(0)).choice(ranked[1:]))]
    else:
        raise ValueError(f"unknown pair rule {rule!r}")
    pairs: list[Pair] = []
    dropped: list[Dropped] = []
    for p in candidates:
        d = _check(p, margin)
        (dropped.append(d) if d else pairs.append(p))
    return pairs, dropped


def agreement(pairs: Sequence[Pair], part: str = "signals") -> dict[str, Any]:
    """How often `part` ranks a pair the way its score does: agree, disagree, tie/missing, and the agreeing share."""
    votes = [p.agrees(part) for p in pairs]
    agree, disagree = votes.count(True), votes.count(False)
    decided = agree + disagree
    return {"agree": agree, "disagree": disagree, "undecided": votes.count(None),
            "share": round(agree / decided, 3) if decided else None}
