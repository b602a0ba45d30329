"""Score rows of any JSONL file with the signals, keeping every row and its order.

`score_rows(rows, signals)` returns one dict of scores per row; nothing is
dropped, so a user can look at the distribution before choosing thresholds.
Relevance embeds the whole file in batches (each response against the file's
other instructions); fluency evaluates many responses per llama.cpp call
(`fluency.FluencyScorer.score_many`).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from ..errors import UsageError
from .completeness import check_completeness
from .form import evolved_simpler, instruction_form
from .pairs import PairFields

SIGNALS = ("relevance", "fluency", "completeness", "form")
DEFAULT_THRESHOLDS = {"relevance": 0.9, "perplexity": 200.0, "completeness": 0.6, "form": 1.0}


def parse_signals(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SIGNALS]
    if bad or not names:
        raise UsageError(f"--signals: unknown signal {', '.join(bad) or '(none)'}; choose from {', '.join(SIGNALS)}")
    return list(dict.fromkeys(names))


def score_rows(rows: Sequence[dict[str, Any]], signals: Sequence[str], pair: PairFields | None = None,
               embedder: Any = None, fluency_model: str | None = None,
               reference: Sequence[str | tuple[str, str]] = (),
               on_progress: Callable[[str, int], None] | None = None, fluency_every: int = 1) -> list[dict[str, Any]]:
    """`fluency_every=k`: the perplexity from every k-th token of a response (`FluencyScorer.score_many`)."""
    if fluency_every < 1:
        raise UsageError(f"--fluency-every must be at least 1 (got {fluency_every}); 1 scores every token")
    pair = pair or PairFields()
    out: list[dict[str, Any]] = [{} for _ in rows]
    if not rows:
        return out
    needs_response = any(s in signals for s in ("relevance", "fluency", "completeness"))
    responses = [pair.response_text(r) for r in rows] if needs_response else []
    if "completeness" in signals:
        for o, text in zip(out, responses):
            c = check_completeness(text)
            o["completeness"] = c.score
            if c.reason:
                o["completeness_reason"] = c.reason
    if "form" in signals:
        for o, row in zip(out, rows):
            inst = pair.bare_instruction(row)
            if inst is None:
                inst = pair.instruction_text(row)
            f = instruction_form(inst)
            o["form"], o["form_kind"] = (1.0 if f.ok else 0.0), f.kind
            meta = row.get("_meta") if isinstance(row.get("_meta"), dict) else {}
            parent = meta.get("parent")
            if f.ok and isinstance(parent, str) and parent.strip():
                why = evolved_simpler(parent, inst, meta.get("operation"))
                if why:
                    o["form"], o["form_kind"] = 0.0, "simpler"
    if "relevance" in signals:
        from .relevance import relevance_scores

        instructions = [pair.instruction_text(r) for r in rows]
        scores, cos = relevance_scores(instructions, responses, embedder, reference=reference)
        for o, s, c in zip(out, scores, cos):
            o["relevance"] = None if math.isnan(s) else round(float(s), 4)
            o["relevance_cos"] = round(float(c), 4)
        if on_progress:
            on_progress("relevance", len(rows))
    if "fluency" in signals:
        from .fluency import MIN_WORDS, fluency_scorer
        from .text import words

        scorer = fluency_scorer(fluency_model)
        todo = []
        for o, text in zip(out, responses):
            if len(words(text)) < MIN_WORDS:
                o["perplexity"] = None
            else:
                todo.append((o, text))
        step = 256  # texts per scorer call: many per llama_decode, progress between calls
        for s in range(0, len(todo), step):
            part = todo[s : s + step]
            for (o, _t), p in zip(part, scorer.score_many([t for _o, t in part], every=fluency_every)):
                o["perplexity"] = None if p.tokens == 0 else round(p.perplexity, 3)
            if on_progress:
                on_progress("fluency", s + len(part))
    return out


def summarize(scores: Sequence[dict[str, Any]]) -> list[tuple[str, int, float, float, float, str]]:
    """(score, n, p10, median, p90, how many fall on the wrong side of the default threshold) per numeric score."""
    rows = []
    for key in ("relevance", "perplexity", "completeness", "form"):
        vals = sorted(s[key] for s in scores if isinstance(s.get(key), (int, float)))
        if not vals:
            continue

        def pct(p: float) -> float:
            return vals[min(len(vals) - 1, max(0, math.ceil(p * len(vals)) - 1))]

        t = DEFAULT_THRESHOLDS[key]
        bad = sum(1 for v in vals if (v > t if key == "perplexity" else v < t))
        rows.append((key, len(vals), pct(0.1), pct(0.5), pct(0.9), f"{bad} {'>' if key == 'perplexity' else '<'} {t:g}"))
    return rows
