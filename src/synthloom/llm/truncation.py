"""Values cut at a length bound: which string/array values of a constrained reply the grammar closed.

With a ``maxLength`` (or ``maxItems``) in the decoding schema, the grammar closes a string (an
array) once it reaches the bound, whatever the model wanted to write next: the call still ends
with ``stop`` and the JSON validates, but "... Please refund my" is a truncated value. The
decoding loop records, for every token it emitted, whether the model chose it freely (its own
top choice was allowed) or the grammar overrode it (the top choice was masked, or the token was
forced); a value that ends at its bound through an overridden closing token is truncated.

Used by both backends (llama.cpp knows which tokens the grammar overrode; for a server every
value exactly at its bound counts as cut) to fill ``GenerationResult.truncated``.
"""
from __future__ import annotations

import json
from typing import Any


def value_closings(text: str) -> list[tuple[tuple[Any, ...], str, int]]:
    """(path, kind, byte offset of the closing character) for every string value and array in
    compact JSON ``text``; kind is "string" or "array". Object keys are not values."""
    data = text.encode("utf-8")
    out: list[tuple[tuple[Any, ...], str, int]] = []
    # stack entries: ["object", key | None, expecting_key] or ["array", index]
    stack: list[list[Any]] = []
    i, n = 0, len(data)

    def here() -> tuple[Any, ...]:
        path = []
        for fr in stack:
            path.append(fr[1])
        return tuple(path)

    while i < n:
        c = data[i]
        if c == 0x22:  # '"'
            j = i + 1
            while j < n and data[j] != 0x22:
                j += 2 if data[j] == 0x5C else 1
            if stack and stack[-1][0] == "object" and stack[-1][2]:
                if j >= n:  # the text ends inside a key (cut at max_tokens): no value follows
                    break
                stack[-1][1] = json.loads(data[i:j + 1].decode("utf-8", "replace"))
                stack[-1][2] = False
            else:
                out.append((here(), "string", j))
            i = j + 1
            continue
        if c == 0x7B:  # '{'
            stack.append(["object", None, True])
        elif c == 0x5B:  # '['
            stack.append(["array", 0])
        elif c in (0x7D, 0x5D):  # '}' ']'
            if stack:
                fr = stack.pop()
                if fr[0] == "array":
                    out.append((here(), "array", i))
        elif c == 0x2C and stack:  # ','
            if stack[-1][0] == "object":
                stack[-1][2] = True
            else:
                stack[-1][1] += 1
        i += 1
    return out


def _subschema(schema: Any, path: tuple[Any, ...], root: Any) -> Any:
    node = schema
    for part in path:
        node = _deref(node, root)
        if not isinstance(node, dict):
            return None
        if isinstance(part, int):
            prefix = node.get("prefixItems")
            if isinstance(prefix, list) and part < len(prefix):
                node = prefix[part]
            elif isinstance(node.get("items"), dict):
                node = node["items"]
            elif isinstance(node.get("items"), list) and part < len(node["items"]):
                node = node["items"][part]
            else:
                return None
        else:
            props = node.get("properties")
            if isinstance(props, dict) and part in props:
                node = props[part]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:
                return None
    return _deref(node, root)


def _deref(node: Any, root: Any, depth: int = 0) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#") \
            and depth < 8:
        target: Any = root
        for part in node["$ref"][1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return node
        node, depth = target, depth + 1
    return node


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def at_bound(value: Any, schema: Any, kind: str) -> bool:
    """Whether a string (array) is exactly as long as its schema allows, and the bound is a real
    choice point (not a fixed length, an enum, a pattern or a format that ends it anyway)."""
    if not isinstance(schema, dict):
        return False
    if kind == "string":
        hi, lo = schema.get("maxLength"), schema.get("minLength", 0)
        if not isinstance(value, str) or not isinstance(hi, int) or any(
                k in schema for k in ("enum", "const", "pattern", "format")):
            return False
        return len(value) == hi and hi > (lo if isinstance(lo, int) else 0)
    hi, lo = schema.get("maxItems"), schema.get("minItems", 0)
    if not isinstance(value, list) or not isinstance(hi, int):
        return False
    return len(value) == hi and hi > (lo if isinstance(lo, int) else 0)


def pointer(path: tuple[Any, ...]) -> str:
    """A field path as people write it: ``items[2].name``; ``(root)`` for the whole value."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def truncated_values(text: str, value: Any, schema: Any,
                     overridden: "list[tuple[int, int]] | None" = None) -> tuple[str, ...]:
    """Field paths of the values in ``value`` (decoded as ``text`` under ``schema``) that ended at
    their ``maxLength``/``maxItems`` bound.

    ``overridden``: byte spans of ``text`` produced by tokens the model did not choose freely. With
    it, only a value whose closing character lies in such a span counts (the model wanted to go
    on); without it (a backend that cannot tell), every value at its bound counts.
    """
    if not isinstance(schema, dict) or value is None:
        return ()
    found = []
    for path, kind, offset in value_closings(text):
        if not at_bound(_at(value, path), _subschema(schema, path, schema), kind):
            continue
        if overridden is not None and not any(a <= offset < b for a, b in overridden):
            continue
        found.append(pointer(path))
    return tuple(found)


def _path_tuple(path: str) -> tuple[Any, ...]:
    """A ``pointer()``-style path (``items[2].name``) as the keys and indexes it names."""
    import re

    if path == "(root)":
        return ()
    return tuple(int(i) if i else n for n, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path))


def value_at(value: Any, path: str) -> Any:
    """The value at a ``pointer()``-style path (``items[2].name``), or None."""
    return _at(value, _path_tuple(path))


def cut_against(paths: "tuple[str, ...] | list[str]", value: Any, schema: Any) -> tuple[str, ...]:
    """The truncated ``paths`` that are cut by the user's own ``schema``: every string, and a list only
    where ``schema`` itself bounds it (``maxItems``). A list that a retry rung capped (the narrowing
    ladder's ``max_items``, not in ``schema``) is a shorter list of complete items, not a value cut
    off, so it is dropped from the result."""
    out = []
    for p in paths:
        v = value_at(value, p)
        if isinstance(v, list):
            sub = _subschema(schema, _path_tuple(p), schema)
            if not at_bound(v, sub, "array"):
                continue
        out.append(p)
    return tuple(out)
