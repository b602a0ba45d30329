"""Build the LLM a recipe names: one model -> its backend; several -> a weighted pool.

Backends are imported only when a recipe names them, so a run on an HTTP server
never loads llama.cpp, and a run on the bundled model never imports aiohttp.
"""
from __future__ import annotations

from typing import Sequence

from ..config.models import LlamaCppModel, ModelConfig
from ..errors import RecipeError
from ..registry import load
from .types import LLM

# backend name (the `backend:` field of a model config) -> "module:Class"
BACKENDS = {
    "llamacpp": "synthloom.llm.llamacpp:LlamaCppLLM",
    "openai": "synthloom.llm.openai_compat:OpenAICompatLLM",
}


def build_backend(cfg: ModelConfig) -> LLM:
    """One backend for one model config."""
    target = BACKENDS.get(cfg.backend)
    if target is None:
        raise RecipeError(f"model.backend: unknown backend '{cfg.backend}' (known: {', '.join(sorted(BACKENDS))})")
    if getattr(cfg, "batch_api", None):  # the calls go through the provider's batch API (llm/batch_llm.py)
        target = "synthloom.llm.batch_llm:BatchLLM"
    return load(target)(cfg)


def build_llm(models: Sequence[ModelConfig]) -> LLM:
    """The LLM for a recipe's `model:` section (a list; empty means the bundled model)."""
    models = list(models) or [LlamaCppModel()]
    if len(models) == 1:
        return build_backend(models[0])
    from .pool import ModelPool

    return ModelPool([(build_backend(m), m.weight) for m in models])
