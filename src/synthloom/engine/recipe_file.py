"""Read a recipe from YAML, turning every validation problem into one clear message."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..config.messages import describe_validation_error
from ..config.recipe import Recipe
from ..errors import RecipeError
from ..userfiles import parse_data


def recipe_from_dict(data: Any, origin: str) -> Recipe:
    if not isinstance(data, dict):
        raise RecipeError(f"{origin}: a recipe must be a YAML mapping (name:, count:, generate:, ...)")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(describe_validation_error(exc, origin, data, Recipe)) from None


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    path = Path(path)
    if path.is_dir():
        raise RecipeError(f"{path}: is a folder; give the recipe file itself (examples live in examples/)")
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found; check the path (examples live in examples/)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: not a text file; a recipe is UTF-8 YAML") from None
    data = parse_data(text, str(path), error=RecipeError)
    for dotted, value in (overrides or {}).items() if isinstance(data, dict) else ():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node, dict) else node
        node[leaf] = value
    return recipe_from_dict(data, str(path))
