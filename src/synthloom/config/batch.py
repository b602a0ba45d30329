"""How a model block sends its calls through a provider's batch API (`batch_api:`): see docs/batch-api.md."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BatchSettings(BaseModel):
    """Tuning of the batch path; the defaults suit OpenAI and Anthropic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_requests: int | None = Field(
        None, gt=0, description="requests per batch; default: the provider's limit (OpenAI 50,000, Anthropic 100,000)")
    max_bytes: int | None = Field(
        None, gt=0, description="bytes of requests per batch; default: below the provider's limit "
                                "(OpenAI 200 MB file, Anthropic 256 MB)")
    collect_s: float = Field(2.0, gt=0, description="a batch is cut when no new request came for this long "
                                                    "(or when it is full)")
    poll_s: float = Field(30.0, gt=0, description="first wait between two looks at a batch's status")
    poll_max_s: float = Field(600.0, gt=0, description="the wait grows by half each look, up to this")
    completion_window: str = Field("24h", description="OpenAI's completion_window")
    overdue_s: float = Field(3600.0, ge=0, description="a batch still running this long after its expiry is "
                                                       "cancelled and its requests retried, not waited on forever")


def batch_identity(live_identity: str, api: str) -> str:
    """The identity of a model's calls through a batch API: its own cache keys, and its own (batch) price."""
    return f"{live_identity}@{api}-batch"
