"""`gate: language`: each record is in the language sampled for it (a `language:` attribute axis in any
technique) or in one fixed language; the same language-ID check as the translate technique.

Reasons (stage `filter`): language:source (drift back to the source language), language:wrong,
language:unknown (the axis value names no language that language ID knows).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .language_id import language_code
from .text import record_text
from .translation import language_problem


class LanguageGate(StatelessGate):
    name = "language"
    stage = "filter"

    def __init__(self, config: Any) -> None:
        self.config = config

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        cfg = self.config
        wanted = cfg.language or (rec.meta.get("attributes") or {}).get(cfg.axis)
        if wanted is None:
            return rec  # no language sampled for this record: nothing to check
        code = language_code(wanted)
        if code is None:
            return Rejection.of(rec, "filter", "language:unknown",
                                f"{cfg.axis}={wanted!r} is not a language code or name language ID knows")
        problem = language_problem(record_text(rec.data, cfg.fields), code, cfg.source_language, cfg.min_confidence)
        if problem:
            return problem.reject(rec, "filter")
        return rec.with_meta(language=code)


def build(config: Any, base_dir: Path) -> LanguageGate:
    return LanguageGate(config)
