"""What Self-Instruct and Evol-Instruct share: one structured call for one field, a failed or
unusable reply as a rejection, the lineage a slot starts from, and the technique's description.

A reply is read from ``GenerationResult.parsed_object`` (the backend parsed it, see
``llm/jsontext.py``); ``error_kind`` tells a failed call ("backend") from a reply that is no
JSON object.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..llm.types import GenerationRequest, GenerationResult
from ..records import Rejection
from .base import GenContext


def call_failure(result: GenerationResult, what: str, meta: dict[str, Any],
                 data: dict[str, Any] | None = None) -> Rejection | None:
    """A failed call, a cut-off response or unparsable JSON, as a rejection (None if fine)."""
    # the paper drops responses cut off by the length limit, whether or not they parse
    if result.finish_reason == "length":
        return Rejection(stage="filter", reason="truncated", detail=f"the {what} was cut off by the length limit "
                         f"after {result.completion_tokens} tokens", data=data, raw=result.text, meta=meta)
    if result.error_kind == "backend":
        return Rejection(stage="parse", reason="backend_error", detail=f"{what}: {str(result.error)[:300]}",
                         data=data, raw=result.text, meta=meta)
    if result.parsed_object is None:
        return Rejection(stage="parse", reason="invalid_json", detail=f"{what}: not a JSON object: {result.text[:200]!r}",
                         data=data, raw=result.text, meta=meta)
    return None


def slot_meta(technique: str, template: str, prompts: Iterable[Any], seed: int | None, slot: int,
              **lineage: Any) -> dict[str, Any]:
    """The lineage a slot's records start from: technique, its own fields, template (and hash), seed, slot."""
    return {"technique": technique, **lineage, "template": template,
            "template_hash": "".join(p.hash for p in prompts), "seed": seed, "slot": slot}


def description(technique: str, prompts: Iterable[Any], seeds: int, **more: Any) -> dict[str, Any]:
    """What the manifest and card say about an instruction technique: its templates, seeds and settings."""
    return {"technique": technique, "templates": {p.name: p.hash for p in prompts}, "seeds": seeds, **more}


async def ask_field(ctx: GenContext, req: GenerationRequest, field: str, what: str, meta: dict[str, Any],
                    data: dict[str, Any] | None = None) -> tuple[str, GenerationResult] | Rejection:
    """One structured call for one string field: (its value, stripped; the result), or the rejection.
    The first call of a slot names the model in `meta`."""
    (res,) = await ctx.llm.generate([req])
    meta.setdefault("model", res.model)
    fail = call_failure(res, what, meta, data)
    if fail:
        return fail
    return str(res.parsed_object.get(field, "")).strip(), res
