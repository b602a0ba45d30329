"""The LLM layer: one protocol, one module per backend, the pool and the cache key.

Backends are imported lazily: `build_llm` loads llama.cpp or aiohttp only for the
backend a recipe names.
"""
from .factory import build_llm
from .pool import ModelPool
from .types import LLM, GenerationRequest, GenerationResult, cache_key

__all__ = ["LLM", "GenerationRequest", "GenerationResult", "ModelPool", "build_llm", "cache_key"]
