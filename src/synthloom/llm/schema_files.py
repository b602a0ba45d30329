"""Load and check a JSON schema given inline, as a file, or as a pydantic model (`module:Class`).

Below the techniques and the gates (both load schemas a recipe names): `generators.schema_io`
re-exports `load_schema` for the techniques.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..errors import SchemaError
from ..userfiles import read_data, show
from .jsontext import check_schema as _check_jsonschema


def load_schema(spec: dict[str, Any] | str, base_dir: Path, where: str = "generate.schema") -> dict[str, Any]:
    if isinstance(spec, dict):
        schema, origin = spec, where
    elif isinstance(spec, str) and ":" in spec and not Path(base_dir, spec).exists() and not spec.endswith((".json", ".yaml", ".yml")):
        schema, origin = _from_pydantic(spec, where), spec
    else:
        path = Path(spec) if Path(spec).is_absolute() else Path(base_dir, spec)
        if not path.is_file():
            raise SchemaError(f"{where}: schema file '{show(path)}' does not exist; give a path to a .json or .yaml file, "
                              "an inline mapping, or a pydantic model as module:Class")
        schema = read_data(path, "schema file", SchemaError)
        origin = show(path)
    check_schema(schema, origin)
    return schema


def _from_pydantic(spec: str, where: str) -> dict[str, Any]:
    module_name, _, attr = spec.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SchemaError(f"{where}: cannot import '{spec}' ({exc}); give module:Class of a pydantic model "
                          "importable from the current directory") from exc
    if not hasattr(obj, "model_json_schema"):
        raise SchemaError(f"{where}: '{spec}' is not a pydantic model (no model_json_schema)")
    return obj.model_json_schema()


def check_schema(schema: Any, origin: str) -> None:
    if not isinstance(schema, dict):
        raise SchemaError(f"{origin}: a JSON schema must be an object (mapping), got {type(schema).__name__}")
    _check_jsonschema(schema, origin, top="(root)")
    problem = unsatisfiable(schema)
    if problem:
        raise SchemaError(f"{origin}: the schema cannot be satisfied: {problem}; relax that constraint")


def unsatisfiable(schema: Any, path: str = "(root)", depth: int = 0) -> str | None:
    """Common contradictions no record can meet (a best-effort check, not a proof)."""
    if not isinstance(schema, dict) or depth > 32:
        return None
    if schema.get("enum") == []:
        return f"{path}: enum is empty"
    pairs = (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems"),
             ("minProperties", "maxProperties"), ("exclusiveMinimum", "maximum"), ("minimum", "exclusiveMaximum"))
    for lo, hi in pairs:
        if _number(schema.get(lo)) and _number(schema.get(hi)):  # draft-4 exclusive* are booleans: not bounds
            if schema[lo] > schema[hi] or (lo.startswith("exclusive") or hi.startswith("exclusive")) and schema[lo] >= schema[hi]:
                return f"{path}: {lo} {schema[lo]} is above {hi} {schema[hi]}"
    props = schema.get("properties") or {}
    if schema.get("additionalProperties") is False:
        missing = [r for r in schema.get("required", []) if r not in props and not schema.get("patternProperties")]
        if missing:
            return f"{path}: required field(s) {missing} are not in properties and additionalProperties is false"
    for name, sub in props.items():
        if sub is False and name in schema.get("required", []):
            return f"{path}.{name}: required but its schema is false"
        found = unsatisfiable(sub, f"{path}.{name}", depth + 1)
        if found:
            return found
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found = unsatisfiable(schema[key], f"{path}.{key}", depth + 1)
            if found:
                return found
    return None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
