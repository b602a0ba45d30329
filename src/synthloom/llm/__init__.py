"""The LLM layer: one protocol, one module per backend, the pool and the cache key."""
from .types import LLM, GenerationRequest, GenerationResult, cache_key

__all__ = ["LLM", "GenerationRequest", "GenerationResult", "cache_key"]
