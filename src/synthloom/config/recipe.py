"""A recipe: what to make, how much, with which model, through which gates."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .catalog import GateConfig, TechniqueConfig
from .common import Strict
from .models import LlamaCppModel, ModelConfig
from .quality import DedupGateConfig
from .ray_settings import RaySettings


class EngineSettings(Strict):
    concurrency: int | None = Field(
        None, gt=0, description="slots (candidate attempts) in flight at once; default: the model's batch width (llamacpp), else 8")
    max_attempts: int | None = Field(None, gt=0, description="budget: slots to try; default 5 x count + 20")
    max_tokens: int | None = Field(None, gt=0, description="budget: total completion tokens")
    max_seconds: float | None = Field(None, gt=0, description="budget: wall time")
    max_cost: float | None = Field(None, gt=0, description="budget: money at the model blocks' prices; stops before a call that could cross it")
    seed: int = 0
    executor: Literal["local", "ray"] = Field("local", description="local: this process; ray: model calls on Ray workers")
    ray: RaySettings = Field(default_factory=RaySettings, description="the Ray cluster and workers (executor: ray)")


class ExportSettings(Strict):
    """One fine-tuning export written after the run (same as `synthloom export RUN_DIR ...`)."""

    format: str = Field(..., description="openai, sharegpt, alpaca, chatml, hf or parquet")
    path: str = Field(..., description="output folder")
    split: str = Field("0.8,0.1,0.1", description="train,validation,test shares")
    system: str | None = Field(None, description="system prompt added to chat formats")
    stratify: str | None = Field(None, description="a field, or meta.<key> of the lineage, to stratify splits by")
    seed: int = 0


class OutputSettings(Strict):
    path: str | None = Field(None, description="output file (.jsonl/.parquet) or folder (gets data.jsonl)")
    format: str | None = Field(None, description="jsonl, parquet or csv; default: from the path's suffix")
    with_meta: bool = Field(False, description="add each record's lineage under `_meta`")
    rejected: bool = Field(False, description="also write rejected candidates (rejected.jsonl)")
    exports: list[ExportSettings] = Field(default_factory=list, description="fine-tuning exports written after the run")


class Recipe(Strict):
    name: str = "synthloom-run"
    description: str = ""
    count: int = Field(..., description="how many accepted records to make")
    model: ModelConfig | list[ModelConfig] = Field(default_factory=LlamaCppModel)
    generate: TechniqueConfig
    quality: list[GateConfig] = Field(default_factory=lambda: [DedupGateConfig()])
    checks: list[Literal["readable", "complete", "relevant", "fluent", "pmi"]] | None = Field(
        None, description="judge-free acceptance checks on the free text a technique writes (quality/checks.py): "
        "readable, complete, relevant, fluent, pmi; absent: the technique's defaults (readable, complete, relevant); "
        "[] for none")
    engine: EngineSettings = Field(default_factory=EngineSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)

    @field_validator("count")
    @classmethod
    def _count_positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"count must be > 0 (got {v}): ask for at least one record")
        return v

    @model_validator(mode="after")
    def _technique_fits_count(self) -> "Recipe":
        check = getattr(self.generate, "check_count", None)  # e.g. explicit per-label counts must add up to count
        if check is not None:
            check(self.count)
        return self

    def models(self) -> list:
        return list(self.model) if isinstance(self.model, list) else [self.model]
