"""Pieces shared by several technique configs."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def without_empty(data: Any, *keys: str) -> Any:
    """A serialized config without `keys` where they are unset or empty: a recipe written before an option
    existed keeps its run identity (and so resumes its run directory) and its dataset card."""
    if isinstance(data, dict):
        for key in keys:
            if not data.get(key):
                data.pop(key, None)
    return data


class Sampling(Strict):
    temperature: float = Field(0.8, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(512, gt=0)



class Narrowing(Strict):
    """What the decoder may narrow, learned only from the schema and the examples (llm/narrowing.py);
    every narrowing is listed in the manifest and the report."""

    shapes: bool = Field(True, description="a short code-like string whose examples share a shape "
                         "(EUR, 1867-11-07, a UUID) keeps it")
    dates: bool = Field(True, description="`format: date` strings are real calendar dates in their examples' era")
    numbers: bool = Field(True, description="numbers keep their examples' precision and magnitude")
    skip: list[str] = Field(default_factory=list, description="fields left as the schema writes them, e.g. [code]")
