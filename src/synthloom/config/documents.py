"""Document-grounded techniques: extraction, synthetic documents, RAG QA. (Owned by the documents work.)"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .common import Sampling, Strict


class ExtractTechnique(Strict):
    technique: Literal["extract"] = "extract"
    docs: str = Field(..., description="folder or file of documents")
    json_schema: dict[str, Any] | str = Field(..., alias="schema")
    sampling: Sampling = Field(default_factory=Sampling)
    model_config = Strict.model_config | {"populate_by_name": True}


class DocumentsTechnique(Strict):
    technique: Literal["documents"] = "documents"
    json_schema: dict[str, Any] | str = Field(..., alias="schema")
    sampling: Sampling = Field(default_factory=Sampling)
    model_config = Strict.model_config | {"populate_by_name": True}


class QATechnique(Strict):
    technique: Literal["qa"] = "qa"
    docs: str = Field(..., description="folder or file of documents (the knowledge base)")
    sampling: Sampling = Field(default_factory=Sampling)
