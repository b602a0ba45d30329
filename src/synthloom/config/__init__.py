"""Pydantic models of a recipe. No I/O, no heavy imports."""
from .models import LlamaCppModel, ModelConfig, OpenAIModel
from .recipe import EngineSettings, OutputSettings, Recipe, TechniqueConfig
from .schema_gen import SchemaTechnique

__all__ = [
    "EngineSettings",
    "LlamaCppModel",
    "ModelConfig",
    "OpenAIModel",
    "OutputSettings",
    "Recipe",
    "SchemaTechnique",
    "TechniqueConfig",
]
