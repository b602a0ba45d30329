"""A pydantic ValidationError in the recipe's own words: one line per problem, `file: field.path must be ...`.

Pydantic names the union branches it tried (`tagged-union[LlamaCppModel,OpenAIModel]`,
`list[...]`, `str`, a technique's tag); a user wrote none of them. Here each error's
location is walked against the data the user wrote: branch names are dropped, errors
from a branch that does not fit the value's shape (a mapping tried as a list) are
dropped when another branch explains the problem, and what is left is said once.
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

TAGS = ("technique", "backend", "gate", "rule")  # the discriminator fields a recipe writes
_SCALARS = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "none": (type(None),)}
MAX_LINES = 5


def _branch_fits(marker: str, node: Any) -> bool | None:
    """Does the value fit the union branch pydantic tried? None: not a branch marker."""
    if marker.startswith(("list[", "tuple[", "set[", "frozenset[")):
        return isinstance(node, list)
    if marker.startswith(("dict[", "tagged-union[")) or marker[:1].isupper():
        return isinstance(node, dict)
    if marker in _SCALARS:
        return isinstance(node, _SCALARS[marker]) and not (marker != "bool" and isinstance(node, bool))
    if "[" in marker or marker.startswith("function-") or marker in ("any", "literal", "nullable"):
        return True
    return None


def _walk(loc: tuple, data: Any) -> tuple[str, list[tuple[str, bool]], Any]:
    """(the dotted path a user wrote, [(union point, whether this branch fits the value)], the last mapping on the way)."""
    parts: list[str | int] = []
    branches: list[tuple[str, bool]] = []
    node = parent = data
    for i, p in enumerate(loc):
        if isinstance(node, dict):
            parent = node
        if isinstance(p, int):
            parts.append(p)
            node = node[p] if isinstance(node, list) and p < len(node) else None
            continue
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(node, dict) and any(node.get(t) == p for t in TAGS) and (p not in node or nxt in node or nxt is None):
            continue  # a discriminated union's tag (technique `schema`), not a field
        if not (isinstance(node, dict) and p in node):
            fits = _branch_fits(p, node)
            if fits is not None:
                branches.append((_join(parts), fits))
                continue
        parts.append(p)
        node = node.get(p) if isinstance(node, dict) else None
    return _join(parts), branches, parent


def _join(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_MUST = {
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text", "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_COMPARE = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
            "less_than_equal": ("le", "<=")}


def _number(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _field_sets(model: Any) -> list[set[str]]:
    """The field names of every mapping the model can hold (from its JSON schema), by the names a user writes."""
    try:
        schema = model.model_json_schema(by_alias=True)
    except Exception:  # a type without a JSON schema: no suggestions, still a clear message
        return []
    sets = [set(d.get("properties", {})) for d in schema.get("$defs", {}).values()]
    return [set(schema.get("properties", {})), *sets]


def _did_you_mean(bad: str, written: dict, model: Any) -> str:
    import difflib

    siblings = {k for k in written if k != bad}
    names = set().union(*[s for s in _field_sets(model) if siblings <= s] or [set()]) - siblings
    close = difflib.get_close_matches(bad, sorted(names), n=1, cutoff=0.75)
    return f"did you mean '{close[0]}'? (or remove it)" if close else "remove it or check its spelling"


def _problem(err: dict, loc: str, hint: str = "") -> tuple[str, str | None, str]:
    """(field path, what it must be or None, the whole message after the path)."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind in _MUST:
        return loc, _MUST[kind], f" must be {_MUST[kind]} (got {_got(value)})"
    if kind in _COMPARE:
        key, op = _COMPARE[kind]
        return loc, None, f" must be {op} {_number(ctx.get(key))} (got {_got(value)})"
    if kind == "literal_error":
        return loc, None, f" must be one of {ctx.get('expected')} (got {_got(value)})"
    if kind in ("too_short", "too_long"):
        return loc, None, f": {err['msg'].replace('List', 'the list').replace('Value', 'the value')}"
    if kind == "extra_forbidden":
        return loc, None, f": unknown field: {hint or 'remove it or check its spelling'}"
    if kind == "missing":
        return loc, None, ": required field is missing: add it"
    disc = str(ctx.get("discriminator", "")).strip("'")
    field = f"{loc}.{disc}" if loc and disc else disc or loc
    if kind == "union_tag_invalid":
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        return field, None, f": unknown {disc or 'value'} {ctx.get('tag')!r}; use one of: {tags}"
    if kind == "union_tag_not_found":
        return field, None, ": required field is missing: add it"
    msg = err["msg"].removeprefix("Value error, ")
    leaf = loc.rsplit(".", 1)[-1]
    if leaf and msg.startswith(leaf) and msg[len(leaf):len(leaf) + 1] in (" ", ".", ":"):
        return loc, None, msg[len(leaf):]  # a validator that names its own field: say the path once
    return loc, None, ": " + msg


def describe_validation_error(exc: ValidationError, origin: str, data: Any = None, model: Any = None) -> str:
    """One line per distinct problem (at most five), each `origin: field.path ...` in the recipe's words.
    With `model` (the pydantic class validated), an unknown field gets the closest known name as a hint."""
    walked = [(err, *_walk(err["loc"], data)) for err in exc.errors()]
    # a branch that does not fit the value is dropped when a fitting branch of the same union has an error
    fitting = {point for _, _, branches, _ in walked for point, fits in branches if fits}
    kept = [(err, loc, parent) for err, loc, branches, parent in walked
            if all(fits or point not in fitting for point, fits in branches)]
    lines: list[str] = []
    musts: dict[str, tuple[int, list[str], str]] = {}  # one value tried against several shapes: say it once
    for err, loc, parent in kept:
        hint = ""
        if err["type"] == "extra_forbidden" and model is not None and isinstance(parent, dict):
            hint = _did_you_mean(str(err["loc"][-1]), parent, model)
        field, must, text = _problem(err, loc, hint)
        shown = field or "(top level)"
        if must and field in musts:
            i, alts, got = musts[field]
            if must not in alts:
                alts.append(must)
            lines[i] = f"{origin}: {shown} must be {' or '.join(alts)} (got {got})"
            continue
        if must:
            musts[field] = (len(lines), [must], _got(err.get("input")))
        line = f"{origin}: {shown}{text}"
        if line not in lines:
            lines.append(line)
    out = lines[:MAX_LINES]
    if len(lines) > MAX_LINES:
        out.append(f"... and {len(lines) - MAX_LINES} more problem(s)")
    return "\n".join(out)
