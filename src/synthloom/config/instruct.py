"""Instruction data techniques: Self-Instruct and Evol-Instruct. (Owned by the instruction-data work.)

Defaults follow the papers: Self-Instruct (Wang et al. 2022) and WizardLM's
Evol-Instruct (Xu et al. 2023).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .common import Sampling, Strict

DEFAULT_BLACKLIST: tuple[str, ...] = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
    "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)

EVOL_OPERATIONS: tuple[str, ...] = (
    "add_constraints", "deepen", "concretize", "increase_reasoning", "complicate_input", "breadth",
)
"""In-depth operations, then the in-breadth mutation."""

SIGNALS: tuple[str, ...] = ("relevance", "fluency", "completeness", "form")
SignalsField = Field(
    default_factory=lambda: ["form", "completeness", "relevance", "fluency"],
    description="quality signals applied as gates with their default thresholds (quality/signals): "
    "form (a request or question, not simpler than its parent), completeness, relevance (calibrated on the run's "
    "instructions), fluency (perplexity under the bundled model); [] for none",
)


class SelfInstructTechnique(Strict):
    technique: Literal["self_instruct"] = "self_instruct"
    seeds: str = Field(..., description="JSONL file of seed tasks: instruction, optional input, output, is_classification")
    seed_tasks_per_prompt: int = Field(6, ge=1, description="seed tasks shown in each prompt")
    pool_tasks_per_prompt: int = Field(2, ge=0, description="generated tasks shown in each prompt (fewer while the pool is small)")
    rouge_threshold: float = Field(0.7, gt=0, le=1, description="reject an instruction whose ROUGE-L F with any pooled task is above this")
    min_words: int = Field(3, ge=0, description="an instruction needs more than this many words")
    max_words: int = Field(150, gt=0, description="an instruction may have at most this many words")
    blacklist: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BLACKLIST),
        description="instructions containing any of these words or phrases are dropped (tasks a text model cannot do)",
    )
    classification: Literal["model", "seeds_only"] = Field(
        "model",
        description="model: the model decides whether a new task is classification (output-first instances); "
        "seeds_only: never ask, treat every new task as input-first",
    )
    instances_per_task: int = Field(2, ge=1, le=8, description="input/output instances generated per new task")
    prompt_form: Literal["auto", "document", "chat"] = Field(
        "auto",
        description="how the new instruction is asked: document (the paper's numbered list 'Come up with a series "
        "of tasks: 1. ... 9.' that the model continues up to the newline), chat (turns with a JSON schema); "
        "auto: document when the writer is a base model (the bundled one), chat otherwise",
    )
    signals: list[Literal[SIGNALS]] = SignalsField  # type: ignore[valid-type]
    sampling: Sampling = Field(default_factory=Sampling)

    @field_validator("blacklist")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [w.strip().lower() for w in v if w.strip()]

    @model_validator(mode="after")
    def _words(self) -> "SelfInstructTechnique":
        if self.max_words <= self.min_words:
            raise ValueError(f"max_words ({self.max_words}) must be greater than min_words ({self.min_words})")
        return self


class EvolInstructTechnique(Strict):
    technique: Literal["evol_instruct"] = "evol_instruct"
    seeds: str = Field(..., description="JSONL file of seed instructions (instruction, optional input/output)")
    rounds: int = Field(4, gt=0, description="how many times an instruction can be evolved (M); records go up to this depth")
    operations: list[Literal[EVOL_OPERATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(EVOL_OPERATIONS),
        description="operations drawn uniformly per instruction per round: "
        + ", ".join(EVOL_OPERATIONS),
    )
    information_gain: Literal["near_duplicate", "judge"] = Field(
        "near_duplicate",
        description="how 'no information gain over the parent' is decided: judge asks the model "
        "(Equal / Not Equal, as in WizardLM); near_duplicate compares the texts",
    )
    near_duplicate_threshold: float = Field(
        0.9, gt=0, le=1, description="near_duplicate: ROUGE-L F with the parent at or above this means no gain"
    )
    refusal_max_words: int = Field(80, ge=0, description="a response with 'sorry' and fewer words than this is a refusal")
    signals: list[Literal[SIGNALS]] = SignalsField  # type: ignore[valid-type]
    sampling: Sampling = Field(default_factory=Sampling)
    response_max_tokens: int = Field(512, gt=0, description="budget for each response")

    @field_validator("operations")
    @classmethod
    def _some_ops(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(f"operations is empty: list at least one of {', '.join(EVOL_OPERATIONS)}")
        return list(dict.fromkeys(v))
