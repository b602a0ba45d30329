"""What the techniques need of a JSON schema: its root, its fields in words, the first validation error.

Loading and checking a schema file lives below, in `llm/schema_files.py` (the gates load schemas too).
"""
from __future__ import annotations

from typing import Any

from ..llm.schema_files import _number, check_schema, load_schema, unsatisfiable  # noqa: F401 (re-exported)
from ..records import Problem


def root_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types the schema's root allows, from its `type` (and a root `enum`/`const`); empty: not said."""
    t = schema.get("type")
    types = {t} if isinstance(t, str) else {x for x in t if isinstance(x, str)} if isinstance(t, list) else set()
    if not types and ("enum" in schema or "const" in schema):
        values = schema["enum"] if isinstance(schema.get("enum"), list) else [schema.get("const")]
        types = {"object" if isinstance(v, dict) else "array" if isinstance(v, list) else "string"
                 if isinstance(v, str) else "boolean" if isinstance(v, bool) else "null" if v is None else "number"
                 for v in values}
    return types


_OBJECT_WORDS = ("properties", "required", "additionalProperties", "patternProperties", "minProperties",
                 "maxProperties")
_ARRAY_WORDS = ("items", "prefixItems", "minItems", "maxItems", "contains")


def with_implied_root_type(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema to decode: a root with no `type` whose keywords are only object keywords (`properties`,
    `required`...) or only array keywords (`items`...) gets that type. JSON Schema lets any other value
    through such a root (a bare number validates), and a small model writes one; the record is still
    validated against the schema as written."""
    if "type" in schema or any(k in schema for k in ("enum", "const", "anyOf", "oneOf", "allOf", "$ref", "not")):
        return schema
    obj, arr = any(k in schema for k in _OBJECT_WORDS), any(k in schema for k in _ARRAY_WORDS)
    if obj != arr:
        return {**schema, "type": "object" if obj else "array"}
    return schema


def object_root(schema: dict[str, Any]) -> bool:
    """Whether a record of this schema can be a JSON object (with named fields)."""
    types = root_types(schema)
    return not types or "object" in types


def root_in_words(schema: dict[str, Any]) -> str | None:
    """What one record is, for the prompt: None for an object root, else "JSON array", "JSON string"... ."""
    types = root_types(schema)
    if not types or types == {"object"}:
        return None
    names = {"array": "JSON array", "string": "JSON string", "integer": "JSON integer", "number": "JSON number",
             "boolean": "JSON boolean (true or false)", "null": "JSON null", "object": "JSON object"}
    if len(types) == 1:
        return names.get(next(iter(types)), "JSON value")
    return "JSON value (" + " or ".join(sorted(types)) + ")"


def require_named_fields(schema: dict[str, Any], attributes: dict[str, Any], origin: str = "generate") -> None:
    """Attribute axes are sampled per record and pinned to the field of the same name: a root that cannot be
    an object has no field to pin, so say so instead of sampling values nothing uses."""
    if attributes and not object_root(schema):
        from ..errors import RecipeError

        raise RecipeError(f"{origin}.attributes ({', '.join(attributes)}): attribute axes are pinned to the record's "
                          f"fields of the same name, but the schema's root is {'/'.join(sorted(root_types(schema)))}, "
                          "which has no named fields; remove the attributes, or give the schema an object root "
                          "with those fields (e.g. {type: object, properties: {category: {enum: [...]}, items: "
                          "<your schema>}})")


def first_error(schema_validator, value: Any) -> Problem | None:
    """(reason key, detail) of the most relevant validation error, or None when valid."""
    from jsonschema.exceptions import best_match

    err = best_match(schema_validator.iter_errors(value))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(root)"
    return Problem(f"schema:{err.validator}", f"{where}: {err.message[:300]}")


def field_summary(schema: dict[str, Any], limit: int = 40) -> list[str]:
    """One line per top-level property: name, type, description, allowed values. For an array root,
    the properties of its items (each item of the array is described)."""
    out = []
    if root_types(schema) == {"array"} and isinstance(schema.get("items"), dict):
        schema = schema["items"]
    required = set(schema.get("required", []))
    for name, sub in list((schema.get("properties") or {}).items())[:limit]:
        if not isinstance(sub, dict):
            continue
        bits = [name]
        t = sub.get("type")
        if t:
            bits.append(f"({t if isinstance(t, str) else '/'.join(t)}{', required' if name in required else ''})")
        if sub.get("description"):
            bits.append(f"{str(sub['description'])[:160]}")
        if sub.get("enum"):
            bits.append("one of: " + ", ".join(map(str, sub["enum"][:12])))
        limits = limits_in_words(sub)
        if limits:
            bits.append(f"({limits})")
        out.append(" ".join(bits))
    return out


def limits_in_words(sub: dict[str, Any]) -> str:
    """A field's length limits as a model reads them: "at most 80 characters", "1 to 3 items".

    Stated in the prompt so that the model plans a value that fits; a value the decoder has to close
    at its bound is cut off (rejected as ``truncated_value``).
    """
    if not isinstance(sub, dict) or "enum" in sub or "const" in sub:
        return ""
    bits = []
    lo, hi = sub.get("minLength"), sub.get("maxLength")
    if _number(hi):
        kind = "a short line, " if hi <= 100 else ("a few sentences, " if hi <= 600 else "")
        bits.append(f"{kind}{f'{lo} to ' if _number(lo) and lo > 1 else 'at most '}{hi} characters")
    elif _number(lo) and lo > 1:
        bits.append(f"at least {lo} characters")
    lo, hi = sub.get("minItems"), sub.get("maxItems")
    if _number(hi):
        bits.append(f"{f'{lo} to ' if _number(lo) and lo > 0 else 'at most '}{hi} items")
    elif _number(lo) and lo > 0:
        bits.append(f"at least {lo} items")
    # number ranges are not stated: the decoder enforces them, and a small model told "between 1 and
    # 100000" writes 100000
    if sub.get("format") == "date":
        bits.append("a real calendar date, YYYY-MM-DD")
    return ", ".join(bits)
