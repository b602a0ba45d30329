"""What the LLM gates (judge, label) share: which model, a replayable seed, one call."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from ..llm.types import LLM, GenerationRequest, GenerationResult
from ..records import Record, content_hash
from .base import GateContext

if TYPE_CHECKING:
    from ..config.models import ModelConfig


class LLMGateMixin:
    """A gate whose recipe may name its own model (`model:`, kept as `own_model`: a `ModelGate`).

    It asks its context for the model, `ctx.model(self.own_model)`: the engine fills that with
    a cached, metered client for the block, and a gate without a block gets the run's judge model.
    `llm`, when set, is a model handed to this gate directly (a test, a benchmark) and wins.
    """

    own_model: ModelConfig | None = None
    llm: LLM | None = None

    def resolve_llm(self, ctx: GateContext) -> LLM:
        llm = self.llm if self.llm is not None else ctx.model(self.own_model)
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


def show(data: Mapping[str, Any], fields: list[str] | None, exclude: tuple[str, ...] = ()) -> str:
    if not isinstance(data, Mapping):  # an array or string record: the judge reads its JSON
        from .text import record_text

        return record_text(data, fields)
    view = {k: v for k, v in data.items() if (not fields or k in fields) and k not in exclude}
    return json.dumps(view, ensure_ascii=False)
