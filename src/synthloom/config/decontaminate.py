"""`gate: decontaminate`: keep benchmark items (and paraphrases of them) out of a synthetic set."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import Strict
from .embedding import EmbeddingConfig


class BenchmarkFile(Strict):
    """One benchmark to keep out: a JSONL, CSV or Parquet file, or a folder `datasets` saved with save_to_disk."""

    path: str = Field(..., description="the file or folder (relative paths: from the recipe's folder)")
    name: str | None = Field(None, description="the name rejections and the report use; default: the file's stem")
    fields: list[str] | None = Field(
        None, description="fields whose text is compared, e.g. [question] or [question, answer]; default: all text values"
    )
    id_field: str | None = Field(
        None, description="field that names an item; default: the first of id/idx/_id/question_id/task_id, else the row number"
    )
    split: str | None = Field(None, description="a datasets folder of several splits: the one to read (default: all)")


class DecontaminateGateConfig(Strict):
    """Reject a candidate that repeats, contains or paraphrases an item of a benchmark.

    Three measures, each with its own threshold (null switches it off); the first that fires names
    itself, the benchmark and the item in the rejection.
    """

    gate: Literal["decontaminate"] = "decontaminate"
    benchmarks: list[str | BenchmarkFile] = Field(
        ..., min_length=1, description="benchmark files or folders (a path, or {path, name, fields, id_field, split})"
    )
    fields: list[str] | None = Field(None, description="fields of the candidate whose text is checked; default: all")
    ngram: int = Field(13, ge=3, le=50, description="words per n-gram (13: GPT-3's and OLMo's decontamination)")
    min_ngram: int = Field(
        8, ge=1,
        description="an item shorter than `ngram` words is one n-gram of its own length, if it has at least this many words",
    )
    ngram_threshold: float | None = Field(
        0.1, gt=0, le=1,
        description="reject when the shared n-grams are at least this share of the shorter text's n-grams "
        "(the item's or the candidate's); one shared 13-gram in a 20-word text is 0.125",
    )
    lcs_threshold: float | None = Field(
        0.5, gt=0, le=1,
        description="reject when the longest common substring (normalised characters) covers this share of the shorter "
        "text (one word changed in the middle of a 25-word question leaves no 13-gram but about 0.6)",
    )
    lcs_min_chars: int = Field(40, ge=1, description="a common substring shorter than this never rejects (short items)")
    cosine_threshold: float | None = Field(
        0.8, gt=0, le=1, description="reject when the MiniLM cosine of candidate and item reaches this (paraphrases; "
        "on the planted set reworded questions scored 0.78-0.97, other questions on the same topic 0.32-0.77)"
    )
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    cache_dir: str | None = Field(
        None, description="where indexes are kept; default: $SYNTHLOOM_CACHE/decontaminate (~/.cache/synthloom)"
    )

    @model_validator(mode="after")
    def _some_measure(self) -> "DecontaminateGateConfig":
        if self.ngram_threshold is None and self.lcs_threshold is None and self.cosine_threshold is None:
            raise ValueError("a decontaminate gate needs at least one of ngram_threshold, lcs_threshold, cosine_threshold")
        if self.min_ngram > self.ngram:
            raise ValueError(f"min_ngram ({self.min_ngram}) must not exceed ngram ({self.ngram})")
        return self
