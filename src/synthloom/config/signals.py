"""Quality signals that need no strong judge: relevance, fluency, completeness, instruction form.

Each is a gate (`gate: relevance`, ...) that adds its score to the record's
lineage (`meta.scores`) and rejects below (or above) its threshold. The same
scores come out of `synthloom score FILE` without dropping rows.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import Strict
from .embedding import EmbeddingConfig

InstructionFieldDoc = "field holding the instruction; default: the first of instruction/prompt/question/query"
ResponseFieldDoc = "field holding the response; default: the first of output/response/answer/completion"


class RelevanceGateConfig(Strict):
    """The response is closer to its own instruction than to most other instructions of the run."""

    gate: Literal["relevance"] = "relevance"
    threshold: float = Field(
        0.9, ge=0, le=1,
        description="minimum score: the share of the run's other instructions, and of its shuffled pairs, that the "
        "pair's cosine must beat (the lower of the two)",
    )
    instruction_field: str | None = Field(None, description=InstructionFieldDoc + " (an input/context field is joined)")
    response_field: str | None = Field(None, description=ResponseFieldDoc)
    reference: list[str] = Field(
        default_factory=list, description="JSONL files of instructions that calibrate the first candidates (seeds)"
    )
    min_pool: int = Field(8, ge=1, description="other instructions needed before a score can reject")
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)


class FluencyGateConfig(Strict):
    """Per-token perplexity of the response under a GGUF language model (default: the bundled one)."""

    gate: Literal["fluency"] = "fluency"
    max_perplexity: float | None = Field(200.0, gt=1, description="reject above this perplexity (word salad)")
    min_perplexity: float | None = Field(1.8, ge=1, description="reject below this perplexity (a repetition loop)")
    min_words: int = Field(4, ge=1, description="texts with fewer words are not scored (and pass)")
    fields: list[str] | None = Field(None, description="fields whose text is scored; default: the response field")
    response_field: str | None = Field(None, description=ResponseFieldDoc)
    model_path: str | None = Field(None, description="a GGUF file to score with; default: the bundled Gemma 3 270M")

    @model_validator(mode="after")
    def _bounds(self) -> "FluencyGateConfig":
        lo, hi = self.min_perplexity, self.max_perplexity
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError(f"min_perplexity ({lo}) must be below max_perplexity ({hi})")
        return self


class CompletenessGateConfig(Strict):
    """The text ends where a text ends: no cut mid-sentence, open brackets or code fences, dangling list items."""

    gate: Literal["completeness"] = "completeness"
    threshold: float = Field(
        0.6, ge=0, le=1,
        description="minimum score: 1 ends with an end mark, 0.75 complete by its style (a short answer, a list, verse), "
        "0.5 a line of 4+ words with no end mark, 0 a mark of a cut",
    )
    fields: list[str] | None = Field(None, description="fields whose text is checked; default: the response field")
    response_field: str | None = Field(None, description=ResponseFieldDoc)


class FormGateConfig(Strict):
    """The instruction is a request or a question; an evolved one is not simpler than its parent."""

    gate: Literal["form"] = "form"
    instruction_field: str | None = Field(None, description=InstructionFieldDoc)
    evolved: bool = Field(True, description="when the lineage names a parent instruction, reject evolutions simpler than it")
    breadth_min_ratio: float = Field(
        0.5, gt=0, le=1, description="an in-breadth evolution may not be shorter than this share of its parent"
    )

