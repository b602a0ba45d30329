"""Read a recipe from YAML, turning every validation problem into one clear message."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..config.recipe import Recipe
from ..errors import RecipeError


_TAGS = ("technique", "backend", "gate", "rule")


def _field_path(loc: tuple, data: Any) -> str:
    """The dotted path a user wrote: drop the union tags pydantic inserts (`generate.schema.x` -> `generate.x`)."""
    parts, node = [], data
    for i, p in enumerate(loc):
        if isinstance(node, dict) and any(node.get(t) == p for t in _TAGS):
            nxt = loc[i + 1] if i + 1 < len(loc) else None
            if p not in node or nxt in node or nxt is None:
                continue  # a discriminated union's tag (e.g. technique `schema`), not a field
        if isinstance(p, str) and p.startswith("function-"):
            continue
        parts.append(f"[{p}]" if isinstance(p, int) else str(p))
        if isinstance(node, dict):
            node = node.get(p)
        elif isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        else:
            node = None
    return ".".join(parts).replace(".[", "[") or "(top level)"


def describe_validation_error(exc: ValidationError, origin: str, data: Any = None) -> str:
    lines = []
    for err in exc.errors()[:5]:
        loc = _field_path(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field: remove it or check its spelling"
        elif err["type"] == "missing":
            msg = "required field is missing: add it"
        elif err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            msg = f"unknown value {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        lines.append(f"{origin}: {loc}: {msg}")
    more = len(exc.errors()) - 5
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return "\n".join(lines)


def recipe_from_dict(data: Any, origin: str) -> Recipe:
    if not isinstance(data, dict):
        raise RecipeError(f"{origin}: a recipe must be a YAML mapping (name:, count:, generate:, ...)")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(describe_validation_error(exc, origin, data)) from None


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found; check the path (examples live in examples/)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RecipeError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}; fix the syntax") from None
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: not a text file; a recipe is UTF-8 YAML") from None
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node, dict) else node
        node[leaf] = value
    return recipe_from_dict(data, str(path))
