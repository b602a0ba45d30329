"""Quality gates a recipe can switch on, one model per `gate:` name.

Every gate works on the text of a record: by default all its string values
(joined), or only the fields named in `fields`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import Strict
from .embedding import EmbeddingConfig  # noqa: F401 (re-exported: config.quality.EmbeddingConfig)
from .models import ModelConfig


class DedupGateConfig(Strict):
    """Reject candidates that repeat an accepted record (or a reference record)."""

    gate: Literal["dedup"] = "dedup"
    method: Literal["exact", "minhash", "semantic"] = "exact"
    fields: list[str] | None = Field(None, description="fields whose text is compared; default: the whole record")
    threshold: float | None = Field(
        None, gt=0, le=1,
        description="minhash: Jaccard similarity (default 0.8); semantic: cosine similarity (default 0.85)",
    )
    ngram: int = Field(5, gt=0, description="minhash: shingle size")
    unit: Literal["char", "word"] = Field("char", description="minhash: shingles of characters or of words")
    num_perm: int = Field(128, ge=16, le=1024, description="minhash: permutations")
    backend: Literal["auto", "rensa", "datasketch", "numpy"] = Field(
        "auto", description="minhash: which MinHash implementation signs the shingles"
    )
    reference: list[str] = Field(
        default_factory=list,
        description="JSONL files whose records must not be repeated (seeds, a benchmark to keep out: decontamination)",
    )
    reference_field: str | None = Field(None, description="field of the reference records to compare; default: same as `fields`")
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)

    def effective_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return {"exact": 1.0, "minhash": 0.8, "semantic": 0.85}[self.method]


class FilterGateConfig(Strict):
    """Heuristic filters: cheap checks on the text of each candidate."""

    gate: Literal["filter"] = "filter"
    fields: list[str] | None = Field(None, description="fields whose text is checked; default: the whole record")
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, gt=0)
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, gt=0)
    blacklist: list[str] = Field(default_factory=list, description="words or phrases that reject a record (case-insensitive, whole words)")
    refusals: bool = Field(True, description="reject refusals and assistant boilerplate ('As an AI language model ...')")
    language: str | list[str] | None = Field(None, description="expected ISO 639-1 language code(s), e.g. en")
    max_repeated_ngram_share: float | None = Field(
        0.3, gt=0, le=1, description="reject when the most repeated word n-gram covers more than this share of the words"
    )
    repeat_ngram: int = Field(3, gt=0, description="n of the repeated-n-gram check")

    @model_validator(mode="after")
    def _bounds(self) -> "FilterGateConfig":
        for lo, hi in (("min_chars", "max_chars"), ("min_words", "max_words")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{lo} ({a}) must not exceed {hi} ({b})")
        return self


class JudgeGateConfig(Strict):
    """LLM-as-judge: score each candidate 1-5 on a rubric; keep those at or above `threshold`."""

    gate: Literal["judge"] = "judge"
    rubric: str | None = Field(None, description="what a 5 and a 1 look like; default: a general quality rubric")
    criteria: list[str] = Field(default_factory=list, description="extra points the judge must check")
    threshold: int = Field(3, ge=1, le=5, description="minimum score to keep")
    fields: list[str] | None = Field(None, description="fields the judge sees; default: the whole record")
    model: ModelConfig | None = Field(None, description="judge model; default: the generator's model")
    max_tokens: int = Field(160, gt=0)
    temperature: float = Field(0.0, ge=0, le=2)


class LabelGateConfig(Strict):
    """Label verification: an independent pass predicts the label without seeing it."""

    gate: Literal["label"] = "label"
    label_field: str = Field("label", description="the field that holds the label")
    labels: list[str] = Field(..., min_length=2, description="the allowed labels")
    fields: list[str] | None = Field(None, description="fields the checker sees; default: all but the label")
    task: str | None = Field(None, description="what the labels mean, e.g. 'sentiment of a product review'")
    action: Literal["reject", "flag"] = Field("reject", description="reject disagreements, or keep them with a flag")
    model: ModelConfig | None = Field(None, description="checker model; default: the generator's model")
    max_tokens: int = Field(48, gt=0)


class DiversityGateConfig(Strict):
    """Diversity caps: no attribute value or opening may dominate the accepted records."""

    gate: Literal["diversity"] = "diversity"
    attributes: list[str] = Field(
        default_factory=list,
        description="attribute names (sampled attributes in the lineage, or data fields) whose values are capped",
    )
    max_share: float | None = Field(None, gt=0, le=1, description="cap on the share of accepted records per value")
    max_count: int | None = Field(None, gt=0, description="cap on the number of accepted records per value")
    opening_words: int | None = Field(
        None, gt=0, description="also cap records that open with the same first N words (normalized)"
    )
    fields: list[str] | None = Field(None, description="fields whose text gives the opening; default: the whole record")
    warmup: int = Field(10, ge=0, description="share caps apply once this many records are accepted")

    @model_validator(mode="after")
    def _some_cap(self) -> "DiversityGateConfig":
        if self.max_share is None and self.max_count is None:
            raise ValueError("a diversity gate needs max_share or max_count")
        if not self.attributes and self.opening_words is None:
            raise ValueError("a diversity gate needs attributes to cap, or opening_words")
        return self

