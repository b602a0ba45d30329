"""What the LLM gates (judge, label) share: which model, a replayable seed, one call."""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..llm.types import GenerationRequest, GenerationResult
from ..records import Record, content_hash
from .base import GateContext


class LLMGateMixin:
    """A gate whose recipe may name its own model (`model:`); else it uses `ctx.llm`.

    The engine may set `gate.llm` (e.g. to a cached, metered client for
    `gate.model_config`); if it does not, the gate builds the backend itself
    the first time it needs it.
    """

    model_config: Any = None
    llm: Any = None

    def resolve_llm(self, ctx: GateContext) -> Any:
        if self.llm is None and self.model_config is not None:
            from ..llm.factory import build_backend

            self.llm = build_backend(self.model_config)
        llm = self.llm if self.llm is not None else ctx.llm
        if llm is None:
            raise RuntimeError(f"gate {getattr(self, 'name', '?')} needs a model, and none was given")
        return llm

    @staticmethod
    def seed_for(rec: Record, ctx: GateContext, salt: str) -> int:
        return int(content_hash([ctx.seed, rec.id, salt], 4), 16) & 0x7FFFFFFF

    async def call(self, ctx: GateContext, req: GenerationRequest) -> GenerationResult:
        llm = self.resolve_llm(ctx)
        (res,) = await llm.generate([req])
        return res


def parsed_object(res: GenerationResult) -> Mapping[str, Any] | None:
    """The JSON object of a result, from `parsed` or by parsing the text (first object in it)."""
    if not res.ok:
        return None
    if isinstance(res.parsed, Mapping):
        return res.parsed
    text = res.text.strip()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
            if isinstance(value, Mapping):
                return value
        except ValueError:
            pass
        start = text.find("{", start + 1)
    return None


def show(data: Mapping[str, Any], fields: list[str] | None, exclude: tuple[str, ...] = ()) -> str:
    if not isinstance(data, Mapping):  # an array or string record: the judge reads its JSON
        from .text import record_text

        return record_text(data, fields)
    view = {k: v for k, v in data.items() if (not fields or k in fields) and k not in exclude}
    return json.dumps(view, ensure_ascii=False)
