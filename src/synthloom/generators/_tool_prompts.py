"""How the tools technique shows tools, plans, calls and results to the model, and the schema its calls are
decoded under. Every text here may end up inside a JSON-schema `const` or a grammar a server builds from the
schema: see `plain`."""
from __future__ import annotations

import json
from typing import Any

from ..llm.jsontext import object_schema
from ._tool_specs import ToolSpec


def _signature(spec: ToolSpec) -> str:
    props = spec.parameters.get("properties") or {}
    req = set(spec.parameters.get("required") or ())
    def kind(v: Any) -> str:
        if isinstance(v, dict) and "enum" in v:
            return "|".join(map(str, v["enum"]))
        return str(v.get("type", "any")) if isinstance(v, dict) else "any"

    return ", ".join(f"{k}{'' if k in req else '?'}: {kind(v)}" for k, v in props.items())


def calls_schema(specs: list[ToolSpec], lo: int, hi: int) -> dict[str, Any]:
    """`{"calls": [...]}` with `lo`..`hi` items, each a call of one tool under that tool's parameter schema."""
    one = [object_schema({"name": {"const": s.name}, "arguments": _closed(s.parameters)}) for s in specs]
    item = one[0] if len(one) == 1 else {"anyOf": one}
    return object_schema({"calls": {"type": "array", "items": item, "minItems": lo, "maxItems": hi}})


def _closed(schema: Any) -> Any:
    """The parameters as the decoder reads them: no keys beyond the declared ones in any object (nested ones
    too) unless the schema allows them (records are validated against the schema as written)."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: v if k in ("default", "const", "enum", "examples") else
           {p: _closed(x) for p, x in v.items()} if k == "properties" and isinstance(v, dict) else _closed(v)
           for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def call_text(call: dict[str, Any]) -> str:
    return f"{call['name']}({json.dumps(call.get('arguments') or {}, ensure_ascii=False)})"


def results_text(calls: list[dict[str, Any]]) -> str:
    if not calls:
        return "none (no tool fits the request)"
    return "\n".join(f"- {call_text(c)} -> {c.get('result') if 'result' in c else {'error': c.get('error')}}"
                     for c in calls)


def plain(value: Any) -> str:
    """A value as the plan shows it, without double quotes or backslashes: `Rome`, `7.5`, `[a, b]`,
    `{k: v}`. The plan is pinned as a schema `const`; llama.cpp's JSON-schema-to-grammar converter
    (llama-cpp-python's server) does not escape the backslashes of a quoted string in a literal, so a `"`
    in a const makes a grammar the server cannot parse, and it exits."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{plain(k)}: {plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace('"', "'").replace("\\", "/")


def plan_text(kind: str, planned: list[tuple[str, dict[str, Any]]]) -> str:
    """The calls a request is written for: `get_weather(city=Rome)`; a multi-step plan's second call is
    named only (its values come from the first result). No double quote or backslash (see `plain`)."""
    def one(name: str, args: dict[str, Any]) -> str:
        return f"{name}({', '.join(f'{k}={plain(v)}' for k, v in args.items())})" if args else name

    if kind == "no_tool" or not planned:
        return "none (the tools cannot do what the user asks)"
    if kind == "parallel":
        return f"{one(*planned[0])} and {one(*planned[1])}, independently"
    if kind == "multi_step":
        return f"{one(*planned[0])}, then {planned[1][0]} with a value from its result"
    return one(*planned[0])
