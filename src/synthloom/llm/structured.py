"""One valid instance of a JSON schema, with retries: what schema coverage needs.

Constrained decoding makes the output conform to what the grammar can express.
The rest (``uniqueItems``, formats and patterns the grammar does not know,
``if``/``then``, ``dependencies``...) is checked after generation with
jsonschema (formats checked), and a failed candidate is retried with another
seed and a simpler decoding schema:

1. the schema as given, with long free strings and open arrays capped
   (``maxLength`` / ``maxItems`` added only where the schema sets none) and
   objects closed (``additionalProperties: false`` where the schema leaves it
   open and declares the properties), so a small model cannot ramble or invent
   property after property until ``max_tokens`` cuts the JSON off;
2. the same with tighter caps and a new seed;
3. then the *minimal* form: objects keep only their required properties
   (``additionalProperties: false``), which is still an instance of the
   original schema, and much easier to finish.

The decoding schema only narrows the original (it adds limits, never removes
one), so whatever validates against the original is a fair instance of it: every
candidate is validated against the original schema, never the narrowed one.

``generate_for_schema`` works with any ``LLM`` (llama.cpp, OpenAI-compatible).
The schema generator can call it per record, or reuse ``decoding_schema`` /
``validation_errors`` in its own loop.
"""
from __future__ import annotations

import copy
import logging
import math
import re._parser as sre_parse  # the stdlib's regex parser (Python 3.11+): a pattern's shortest and longest match
from dataclasses import dataclass, field
from typing import Any, Mapping

from .jsontext import validator
from .types import LLM, GenerationRequest, GenerationResult

log = logging.getLogger(__name__)

# Keywords whose value is one subschema / a list of subschemas / a map of subschemas.
_ONE = ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else", "contains",
        "propertyNames", "unevaluatedProperties", "unevaluatedItems")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")


@dataclass(frozen=True)
class Ladder:
    """One rung of the retry ladder."""

    max_string: int | None  # maxLength added to free strings (None: leave them)
    max_items: int | None  # maxItems added to open arrays
    minimal: bool  # required properties only
    temperature: float
    round_numbers: bool = False  # numbers with at most two decimals
    # values as the user's examples show them: caps from their lengths, and what `llm/narrowing.py`
    # learned from the schema and the examples; on for the techniques, off for bare schema coverage
    realistic: bool = False

NUMBER_BOUND = 10**9  # |unbounded numbers| stay below this: no runaway digit strings


DEFAULT_LADDER = (
    Ladder(max_string=160, max_items=3, minimal=False, temperature=0.7),
    Ladder(max_string=60, max_items=2, minimal=False, temperature=0.7, round_numbers=True),
    Ladder(max_string=60, max_items=1, minimal=True, temperature=0.7, round_numbers=True),
    Ladder(max_string=30, max_items=1, minimal=True, temperature=0.3, round_numbers=True),
)


def pattern_cap(pattern: Any, max_string: int) -> int | None:
    """A retry rung's maxLength for a string with a ``pattern`` whose matches can be longer than the rung's
    cap (``^SAM(D|N|E)[0-9]+$``, ``https://host/.*``): the cap, or the pattern's shortest match plus 16
    characters when that is more; None when the pattern bounds the length itself or cannot be read.
    Without it, a tiny model fills ``[0-9]+`` or ``.*`` until max_tokens on every rung."""
    if not isinstance(pattern, str):
        return None
    try:
        lo, hi = sre_parse.parse(pattern).getwidth()
    except Exception:  # re.error, recursion on odd patterns: leave the string as it is
        return None
    cap = max(max_string, lo + 16)
    return cap if hi > cap else None


# Keywords that say something about a value; a subschema with none of them accepts any JSON.
_SHAPING = {"type", "enum", "const", "$ref", "properties", "patternProperties", "additionalProperties", "items",
            "prefixItems", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "pattern", "format",
            "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
            "minItems", "maxItems", "required", "minProperties", "maxProperties", "contains", "uniqueItems",
            "propertyNames", "dependencies", "dependentRequired", "dependentSchemas", "$dynamicRef", "$recursiveRef"}


def _walk(node: Any, fn, path: str = "") -> None:
    """Call fn(subschema, json_pointer) on every subschema (dict) of a schema, parents first."""
    if not isinstance(node, dict):
        return
    fn(node, path)
    for k in _ONE:
        if isinstance(node.get(k), dict):
            _walk(node[k], fn, f"{path}/{k}")
    if isinstance(node.get("items"), list):  # draft-4 tuple form
        for i, s in enumerate(node["items"]):
            _walk(s, fn, f"{path}/items/{i}")
    for k in _LIST:
        if isinstance(node.get(k), list):
            for i, s in enumerate(node[k]):
                _walk(s, fn, f"{path}/{k}/{i}")
    for k in (*_MAP, "dependencies"):
        if isinstance(node.get(k), dict):
            for name, s in node[k].items():
                _walk(s, fn, f"{path}/{k}/{_escape(name)}")


def _escape(name: str) -> str:
    return str(name).replace("~", "~0").replace("/", "~1")


def _resolve(doc: dict, ref: str) -> Any:
    if not ref.startswith("#"):
        return None
    node: Any = doc
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _keep_open(doc: dict) -> tuple[set[int], set[str]]:
    """Subschemas that must stay open (allOf branches, also through $ref) and the $ref targets."""
    refs: set[str] = set()
    branches: set[int] = set()

    def visit(node: dict, path: str) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            refs.add(ref[1:])
        for b in node.get("allOf") or [] if isinstance(node.get("allOf"), list) else []:
            seen = 0
            while isinstance(b, dict) and seen < 8:  # follow $ref chains
                branches.add(id(b))
                target = b.get("$ref")
                b = _resolve(doc, target) if isinstance(target, str) else None
                seen += 1

    _walk(doc, visit)
    return branches, refs


def _types(node: dict) -> set[str]:
    t = node.get("type")
    return {t} if isinstance(t, str) else set(t) if isinstance(t, list) else set()


_OPEN_KEYS = ("dependencies", "patternProperties", "allOf", "anyOf", "oneOf", "$ref", "if",
              "dependentRequired", "dependentSchemas", "unevaluatedProperties")


def _declare_required(node: dict) -> None:
    """A required key the object does not declare (``required: [id]``, ``properties: {_id: ...}``) gets a
    property of its own: the ``additionalProperties`` schema, else a string (any value is allowed there,
    a string is one). Then the object can be closed, and the model does not invent key after key."""
    if any(node.get(k) for k in _OPEN_KEYS) or node.get("additionalProperties") is False:
        return
    extra = node.get("additionalProperties")
    for key in node.get("required") if isinstance(node.get("required"), list) else []:
        if isinstance(key, str) and key not in node["properties"]:
            node["properties"][key] = copy.deepcopy(extra) if isinstance(extra, dict) else {"type": "string"}


def _closed_form(node: dict) -> bool:
    """True when an object's properties are all declared in this node, so closing it keeps it satisfiable."""
    if any(node.get(k) for k in _OPEN_KEYS):
        return False
    required = node.get("required") if isinstance(node.get("required"), list) else []
    if not all(r in node["properties"] for r in required):
        return False
    return int(node.get("minProperties", 0) or 0) <= len(required)


def cap_from_hint(hint: int, kind: str, rung: Ladder) -> int:
    """A bound with room above what the examples show: twice the longest string (at least 20
    characters), the longest list plus one."""
    if kind == "string":
        return max(20, 2 * hint) if not rung.minimal else max(20, math.ceil(1.5 * hint))
    return max(1, hint + (0 if rung.minimal else 1))


def decoding_schema(schema: Mapping[str, Any], rung: Ladder, hints: Mapping[str, int] | None = None,
                    learned: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A narrowed copy of the schema for the decoder (see the module docstring).

    With ``rung.realistic``: ``hints``, the longest string / list the user's examples hold per schema path
    (``runaway.length_hints``), caps a free string or list rather than the rung; ``learned``, keywords per
    schema path learned from the schema and the examples (``narrowing.learn``), are added to the subschema.
    """
    out = copy.deepcopy(dict(schema))
    keep_open, ref_targets = _keep_open(out)

    def referenced(path: str) -> bool:
        return any(t == path or t.startswith(path + "/") for t in ref_targets)

    def narrow(node: dict, path: str) -> None:
        if rung.minimal and not (_SHAPING & node.keys()):
            # "any JSON value" invites nested rambling: a short string is an instance too
            node["type"] = "string"
        if rung.realistic and learned and path in learned and not {"enum", "const"} & node.keys():
            node.update(learned[path])
            if node.get("pattern") and node.get("format") == "date":
                node.pop("format")  # the grammar uses the pattern; the record is validated with the format
        types = _types(node)
        free_string = ("string" in types and not any(k in node for k in ("enum", "const", "format", "pattern",
                                                                          "maxLength")))
        hint = hints.get(path) if hints and rung.realistic else None
        if free_string and hint and rung.max_string:
            node["maxLength"] = max(cap_from_hint(hint, "string", rung), int(node.get("minLength", 0) or 0))
        elif rung.max_string and free_string and int(node.get("minLength", 0) or 0) <= rung.max_string:
            node["maxLength"] = rung.max_string
        if rung.max_string and "string" in types and "maxLength" not in node and not free_string:
            cap = pattern_cap(node.get("pattern"), rung.max_string)
            if cap is not None:
                node["maxLength"] = max(cap, int(node.get("minLength", 0) or 0))
        if types & {"integer", "number"} and "enum" not in node and "const" not in node:
            lo = node.get("minimum", node.get("exclusiveMinimum"))
            hi = node.get("maximum", node.get("exclusiveMaximum"))
            lo_ok = isinstance(lo, (int, float)) and not isinstance(lo, bool)
            hi_ok = isinstance(hi, (int, float)) and not isinstance(hi, bool)
            if not hi_ok and (not lo_ok or lo < NUMBER_BOUND):
                node["maximum"] = NUMBER_BOUND
            if not lo_ok and (not hi_ok or hi > -NUMBER_BOUND):
                node["minimum"] = -NUMBER_BOUND
            wide = not (lo_ok and hi_ok) or hi - lo >= 1
            if rung.round_numbers and "number" in types and "multipleOf" not in node and wide:
                node["multipleOf"] = 0.01
        if rung.minimal and "array" in types and not any(k in node for k in ("items", "prefixItems", "contains")):
            node["items"] = {"type": "string", "maxLength": rung.max_string or 30}
        if rung.max_items and "array" in types and "maxItems" not in node:
            cap = cap_from_hint(hint, "array", rung) if hint and rung.realistic else rung.max_items
            node["maxItems"] = max(cap, int(node.get("minItems", 0) or 0))
        if id(node) in keep_open:
            return  # closing an allOf branch would reject the other branches' properties
        if "object" in types and isinstance(node.get("properties"), dict):
            _declare_required(node)
        if "object" in types and isinstance(node.get("properties"), dict) and _closed_form(node):
            # Close open objects: a small model otherwise invents property after property.
            if "additionalProperties" not in node:
                node["additionalProperties"] = False
            if rung.minimal and node.get("additionalProperties") is False:
                required = node.get("required") or []
                node["properties"] = {k: v for k, v in node["properties"].items()
                                      if k in required or referenced(f"{path}/properties/{_escape(k)}")}
        elif rung.minimal and "object" in types and not node.get("required") and not node.get("minProperties"):
            # a free-form or pattern-keyed object with nothing required: the empty object
            # (also sidesteps patternProperties llguidance cannot compile)
            if not any(node.get(k) for k in ("allOf", "anyOf", "oneOf", "$ref", "if", "dependencies")) \
                    and not referenced(f"{path}/properties"):
                node.pop("patternProperties", None)
                node["properties"] = {}
                node["additionalProperties"] = False

    _walk(out, narrow)
    return out


def validation_errors(value: Any, schema: Mapping[str, Any], limit: int = 3) -> list[str]:
    """Why ``value`` is not an instance of ``schema`` (empty when it is)."""
    errors = []
    for err in validator(schema).iter_errors(value):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        errors.append(f"{where}: {err.message[:200]}")
        if len(errors) >= limit:
            break
    return errors


def describe_schema(schema: Mapping[str, Any], limit: int = 1200) -> str:
    """The schema's own titles and descriptions, as prose a model can follow."""
    lines: list[str] = []
    title = schema.get("title")
    desc = schema.get("description")
    if title or desc:
        lines.append(" - ".join(str(x).strip() for x in (title, desc) if x))
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
    for name, sub in props.items():
        if not isinstance(sub, dict):
            continue
        text = str(sub.get("description") or sub.get("title") or "").strip().replace("\n", " ")
        mark = " (required)" if name in required else ""
        lines.append(f"- {name}{mark}: {text[:160]}" if text else f"- {name}{mark}")
    out = "\n".join(lines)
    return out[:limit]


def schema_messages(schema: Mapping[str, Any], instruction: str | None = None) -> tuple[dict[str, str], ...]:
    """Messages asking for one instance; the schema's descriptions guide the content."""
    about = describe_schema(schema)
    system = "Write one realistic JSON value that is a valid instance of the schema below."
    if instruction:
        system += f"\nWhat it is about: {instruction.strip()}"
    if about:
        system += "\n\n" + about
    return ({"role": "system", "content": system}, {"role": "user", "content": "one JSON instance"})


@dataclass
class SchemaOutcome:
    """The first valid instance (``value``), or the reasons every try failed."""

    value: Any = None
    ok: bool = False
    tries: int = 0
    errors: list[str] = field(default_factory=list)
    results: list[GenerationResult] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(r.completion_tokens for r in self.results)


async def generate_for_schema(
    llm: LLM,
    schema: Mapping[str, Any],
    *,
    messages: tuple[Mapping[str, str], ...] | None = None,
    instruction: str | None = None,
    seed: int = 0,
    max_tokens: int = 1024,
    ladder: tuple[Ladder, ...] = DEFAULT_LADDER,
) -> SchemaOutcome:
    """Generate until one output validates against ``schema`` or the ladder runs out."""
    msgs = tuple(messages) if messages is not None else schema_messages(schema, instruction)
    outcome = SchemaOutcome()
    for i, rung in enumerate(ladder):
        req = GenerationRequest(
            messages=msgs,
            json_schema=decoding_schema(schema, rung),
            max_tokens=max_tokens,
            temperature=rung.temperature,
            seed=seed * 1000 + i,
        )
        (result,) = await llm.generate([req])
        outcome.tries = i + 1
        outcome.results.append(result)
        if result.parsed is None and result.error:
            outcome.errors.append(f"try {i + 1}: {result.error}")
            continue
        value = result.parsed
        errs = validation_errors(value, schema)
        if not errs:
            outcome.value, outcome.ok = value, True
            return outcome
        outcome.errors.append(f"try {i + 1}: " + "; ".join(errs))
    log.debug("no valid instance after %d tries: %s", outcome.tries, outcome.errors)
    return outcome
