"""Instruction data techniques: Self-Instruct and Evol-Instruct. (Owned by the instruction-data work.)"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import Sampling, Strict


class SelfInstructTechnique(Strict):
    technique: Literal["self_instruct"] = "self_instruct"
    seeds: str = Field(..., description="JSONL file of seed tasks: instruction, optional input, output")
    sampling: Sampling = Field(default_factory=Sampling)


class EvolInstructTechnique(Strict):
    technique: Literal["evol_instruct"] = "evol_instruct"
    seeds: str = Field(..., description="JSONL file of seed instructions")
    rounds: int = Field(4, gt=0)
    sampling: Sampling = Field(default_factory=Sampling)
