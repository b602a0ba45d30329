"""The text a gate looks at, and its normal form."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Mapping

_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)


def _leaves(value: Any) -> Iterable[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in sorted(value):
            yield from _leaves(value[key])
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield str(value)


def record_text(data: Any, fields: list[str] | None = None) -> str:
    """The record's text: the values of `fields` (dotted paths allowed), or all its values, one per line.

    A record that is not an object (a schema with an array, string or union root) has no fields: its
    text is its JSON, and naming `fields` for it is a RecipeError that says so.
    """
    if not isinstance(data, Mapping):
        if fields:
            from ..errors import RecipeError
            from ..records import kind_of

            raise RecipeError(f"fields {fields}: a gate can only read named fields of an object record, but this "
                              f"record is a JSON {kind_of(data)} (the schema's root is not an object); remove "
                              "`fields` from the gate (it then reads the whole value), or set generate.wrap: FIELD")
        from ..records import dumps

        return dumps(data).decode()
    if not fields:
        return "\n".join(_leaves(data))
    parts: list[str] = []
    for name in fields:
        value: Any = data
        for step in name.split("."):
            value = value.get(step) if isinstance(value, Mapping) else None
        parts.extend(_leaves(value))
    return "\n".join(parts)


# ASCII fast path of `normalize`: letters/digits/underscore kept (lowercased), everything else a space
_ASCII_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c) if (chr(c).isalnum() or c == 95) else 32 for c in range(256)
)


def normalize(text: str) -> str:
    """Lowercase, NFKC, punctuation dropped, whitespace collapsed: the key of exact dedup."""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_TABLE).decode("ascii").split())
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub(" ", text)
    return _WS.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, n: int = 5, unit: str = "char") -> set[str]:
    """Character or word n-grams of the normalized text (a short text gives itself)."""
    return shingles_of_normalized(normalize(text), n, unit)


def shingles_of_normalized(norm: str, n: int = 5, unit: str = "char") -> set[str]:
    if unit == "word":
        toks = norm.split()
        if len(toks) <= n:
            return {" ".join(toks)} if toks else set()
        return {" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)}
    if len(norm) <= n:
        return {norm} if norm else set()
    return {norm[i : i + n] for i in range(len(norm) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def exact_key(text: str) -> bytes:
    """The key two texts share when they are exact duplicates after normalization (the dedup gate's and
    the whole-file dedup's "exact" test). Per line, so field boundaries (one value per line) survive."""
    import hashlib

    norm = "\n".join(normalize(line) for line in text.splitlines())
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=16).digest()


def field_value(data: Any, name: str, where: str) -> Any:
    """`data[name]` of an object record; for an array/string record (no named fields) a RecipeError naming
    `where` (the gate and its option), instead of a check that silently sees nothing."""
    if isinstance(data, Mapping):
        return data.get(name)
    from ..errors import RecipeError
    from ..records import kind_of

    raise RecipeError(f"{where}: '{name}' names a field of the record, but this record is a JSON {kind_of(data)} "
                      "(the schema's root is not an object), which has no named fields; set generate.wrap: FIELD "
                      "to store each value under a field, or remove this option")
