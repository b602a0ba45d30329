"""One way from a model's reply to a value, and one way to check a value against a JSON schema.

Both backends (llama.cpp in-process, any OpenAI-compatible server) turn the text of a
structured call (one with ``request.json_schema``) into ``GenerationResult.parsed`` with
``read_reply``, and say why not with a typed ``GenerationResult.error_kind``:

    "backend"        the call failed (HTTP error, timeout, prompt too long...); no reply to read
    "truncated"      the reply is not JSON and the model stopped at max_tokens (or a time cap)
    "invalid_json"   the reply is not JSON although the model stopped on its own

Generators and gates read ``parsed`` and ``error_kind`` only; none of them parses text
again. (There used to be five parsers with different tolerances, and a reply the
``openai`` backend could not parse looked like a good call while llama.cpp's carried an
error string that callers recognised by its "parse:" prefix; the prefix is kept in the
message for people, the kind is for code.) The parse is tolerant of what models wrap around JSON: a ```json fence, a
sentence before or after the value. Integers beyond 64 bits keep their exact value. Where the schema asks for an object, a bracketed
aside in the chatter (``[note]``) is passed over rather than returned.

``validator`` is the one jsonschema validator factory (the schema's own draft, format
checks on, cached by content); ``object_schema`` writes the small closed object schemas
the techniques and gates ask a model for.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal, Mapping

from ..records import loads  # orjson, but integers beyond 64 bits stay exact

ErrorKind = Literal["backend", "truncated", "invalid_json"]

_DECODER = json.JSONDecoder()


def _unfenced(text: str) -> str:
    s = text.strip()
    if s.startswith("```"):
        s = s[3:]
        nl = s.find("\n")
        s = s[nl + 1:] if nl != -1 else ""
        end = s.rfind("```")
        if end != -1:
            s = s[:end]
        s = s.strip()
    return s


def parse_json_text(text: str, want_object: bool = False) -> Any:
    """The JSON value in a model's reply, or None.

    The whole text (inside a code fence, if any) first; else the first complete value that
    starts at the first ``{`` or the first ``[`` (chatter before and after is ignored).
    With ``want_object`` only an object found that way counts.
    """
    s = _unfenced(text)
    try:
        return loads(s)
    except ValueError:
        pass
    starts = sorted(i for i in (s.find("{"), s.find("[")) if i >= 0)
    for i in starts:
        try:
            value, _ = _DECODER.raw_decode(s, i)
        except ValueError:
            continue
        if not want_object or isinstance(value, dict):
            return value
    return None


def wants_object(schema: Mapping[str, Any] | None) -> bool:
    t = schema.get("type") if isinstance(schema, Mapping) else None
    return t == "object" or (isinstance(t, list) and t == ["object"])


def read_reply(text: str, finish: str, schema: Mapping[str, Any] | None = None,
               cut_by: str = "max_tokens") -> tuple[Any, ErrorKind | None, str | None]:
    """(parsed value, None, None) or (None, error kind, error message) for a structured call's reply."""
    try:
        return loads(text), None, None  # the usual reply: JSON and nothing else
    except ValueError:
        value = parse_json_text(text, wants_object(schema))
    if value is not None:
        return value, None, None
    if finish == "length":
        return None, "truncated", f"parse: output is cut off by {cut_by}: {text[:80]!r}"
    return None, "invalid_json", f"parse: output is not valid JSON: {text[:80]!r}"


def legacy_error_kind(error: str, finish_reason: str) -> ErrorKind:
    """The kind of an error stored before results carried one (old run stores still replay).

    The llama.cpp backend wrote a reply that did not parse as an error starting "parse:"; any
    other error was the call's own.
    """
    if error.startswith("parse:"):
        return "truncated" if finish_reason == "length" else "invalid_json"
    return "backend"


def object_schema(properties: Mapping[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object schema: these properties, all required unless ``required`` says which."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties) if required is None else list(required),
        "additionalProperties": False,
    }


@lru_cache(maxsize=256)
def _validator_for(schema_json: str) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    schema = json.loads(schema_json)
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)  # raises; an invalid schema is not cached
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validator(schema: Mapping[str, Any], where: str = "schema") -> Any:
    """A jsonschema validator for the schema's draft (2020-12 by default), format checks on; cached.

    An invalid schema is a ``SchemaError`` naming ``where`` and the place in the schema.
    """
    from jsonschema.exceptions import SchemaError as _JSSchemaError

    try:
        return _validator_for(json.dumps(schema, sort_keys=True, default=str))
    except _JSSchemaError as exc:
        raise schema_error(exc, where) from exc


def check_schema(schema: Mapping[str, Any], where: str, top: str = "(top)") -> None:
    """Raise ``SchemaError`` naming ``where`` and the path when ``schema`` is not a valid JSON schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError as _JSSchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except _JSSchemaError as exc:
        raise schema_error(exc, where, top) from exc


def schema_error(exc: Any, where: str, top: str = "(top)") -> Exception:
    from ..errors import SchemaError

    loc = "/".join(map(str, exc.absolute_path)) or top
    return SchemaError(f"{where}: invalid JSON schema at {loc}: {exc.message}")
