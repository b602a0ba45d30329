"""The judge-free checks of a function-calling record (APIGen's three: format, execution, semantics).

- format: the tool exists and the arguments validate against its parameter schema;
- execution: the call ran and returned without an error (`generators/_tool_runner.py` runs it);
- semantics: the calls fit the request (the tools the scenario asked for; every string and number argument
  appears in the request or in an earlier result) and the answer uses the results (one of their values
  appears in it).

Each failure is a (reason, detail) pair; the technique turns it into a rejection named `format:...`,
`execution:...` or `semantics:...`, so the funnel shows each check on its own line.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

Problem = tuple[str, str]


def format_problem(name: Any, arguments: Any, schemas: Mapping[str, Mapping[str, Any]]) -> Problem | None:
    """Why a call is malformed (`format:unknown_tool`, `format:invalid_arguments`), or None."""
    from ..llm.jsontext import validator

    if name not in schemas:
        return "format:unknown_tool", f"no tool named {name!r} (tools: {', '.join(schemas)})"
    if not isinstance(arguments, dict):
        return "format:invalid_arguments", f"{name}: arguments must be an object (got {type(arguments).__name__})"
    errors = sorted(validator(schemas[name], f"tool {name}").iter_errors(arguments), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        at = "/".join(map(str, e.absolute_path)) or "(arguments)"
        return "format:invalid_arguments", f"{name}: {at}: {e.message}"
    return None


def leaves(value: Any) -> Iterable[Any]:
    """The scalar values inside a JSON value (dict values, list items), depth first."""
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w.%-]+", " ", text.lower()).split())


def numbers_in(text: str) -> set[float]:
    """The numbers written in a text, as whole tokens (the 1003 of "A-1003", never the 10 inside it);
    thousands separators dropped."""
    found = re.findall(r"(?<![\d.])\d+(?:,\d{3})*(?:\.\d+)?(?![\d])", text)
    return {float(n.replace(",", "")) for n in found}


def appears(value: Any, text: str) -> bool:
    """Whether a scalar value is written in `text` (case- and punctuation-insensitive; a number in any of its
    usual forms: 12, 12.0, 12.50)."""
    if isinstance(value, bool) or value is None:
        return True  # a flag or a null is not written out in prose
    if isinstance(value, (int, float)):
        return abs(float(value)) in numbers_in(text)
    v = _norm(str(value))
    return bool(v) and v in _norm(text)


def ungrounded_arguments(arguments: Mapping[str, Any], parameters: Mapping[str, Any], *texts: str) -> list[str]:
    """The arguments whose values appear in none of `texts` (the request, earlier results), as `key=value`.
    An argument the schema limits to a choice (`enum`, `const`) is a choice, not a value to copy: not checked."""
    joined = "\n".join(texts)
    props = parameters.get("properties") or {}
    out = []
    for key, value in arguments.items():
        prop = props.get(key) if isinstance(props.get(key), dict) else {}
        if "enum" in prop or "const" in prop:
            continue
        bad = [v for v in leaves(value) if not appears(v, joined)]
        if bad:
            out.append(f"{key}={bad[0]!r}")
    return out


def result_values(results: Iterable[Any]) -> list[Any]:
    """The values of tool results an answer may quote: strings of 2+ characters and numbers."""
    out = []
    for r in results:
        if isinstance(r, str):
            try:
                r = json.loads(r)
            except ValueError:
                pass
        for v in leaves(r):
            if isinstance(v, bool) or v is None:
                continue
            if isinstance(v, (int, float)) or (isinstance(v, str) and len(v.strip()) >= 2):
                out.append(v)
    return out


def answer_uses_results(answer: str, results: Iterable[Any]) -> bool:
    values = result_values(results)
    return not values or any(appears(v, answer) for v in values)


def invented_numbers(answer: str, request: str, results: Iterable[Any]) -> list[str]:
    """Numbers the answer states that neither the request nor the results hold (a made-up total)."""
    known = numbers_in("\n".join([request, json.dumps(list(results), ensure_ascii=False, default=str)]))
    return [f"{n:g}" for n in sorted(numbers_in(answer) - known)]


def repeated_sentence(text: str) -> str | None:
    """A sentence the text says twice (a base model looping), or None."""
    seen = set()
    for sent in re.split(r"(?<=[.!?])\s+", text):
        key = _norm(sent)
        if len(key.split()) >= 3 and key in seen:
            return sent
        seen.add(key)
    return None
