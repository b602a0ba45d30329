"""synthloom: synthetic data generation with language models.

    from synthloom import Recipe, run_recipe
    recipe = Recipe.model_validate({...})        # or synthloom.load_recipe("recipe.yaml")
    summary = run_recipe(recipe, output="records.jsonl")

Nothing happens on import: no logging handlers, no downloads, no model loading.
"""
from .config import EngineSettings, LlamaCppModel, OpenAIModel, OutputSettings, Recipe, SchemaTechnique
from .engine import Progress, RunSummary
from .engine.recipe_file import load_recipe
from .errors import (
    BackendAuthError,
    BackendConnectionError,
    BackendError,
    InputFileError,
    RecipeError,
    SchemaError,
    SynthloomError,
    UsageError,
)
from .llm.types import LLM, GenerationRequest, GenerationResult
from .pipeline import arun_recipe, run_recipe
from .records import Record, Rejection
from .runs import RunStore
from .train import evaluate, load_student, train_classifier, train_lora

__version__ = "0.1.0"

__all__ = [
    "BackendAuthError",
    "BackendConnectionError",
    "BackendError",
    "EngineSettings",
    "GenerationRequest",
    "GenerationResult",
    "InputFileError",
    "LLM",
    "LlamaCppModel",
    "OpenAIModel",
    "OutputSettings",
    "Progress",
    "Recipe",
    "RecipeError",
    "Record",
    "Rejection",
    "RunStore",
    "RunSummary",
    "SchemaError",
    "SchemaTechnique",
    "SynthloomError",
    "UsageError",
    "arun_recipe",
    "evaluate",
    "load_student",
    "load_recipe",
    "run_recipe",
    "train_classifier",
    "train_lora",
]
