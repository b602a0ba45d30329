"""Lazy tables: a recipe's tag -> "module:attribute", imported only when a recipe names the tag.

One style for the three extension points (techniques in `generators`, gates in
`quality`, backends in `llm.factory`): a plain dict of strings, and nothing is
imported until a recipe asks for it (a run that never deduplicates semantically
never loads an embedding model; a run on an HTTP server never loads llama.cpp).
The technique and gate tables are derived from config/catalog.py, where a new one
is a row beside its config model and its module (docs/extending.md).
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping


def load(target: str) -> Any:
    """The object a `"package.module:attribute"` string names."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def lookup(table: Mapping[str, str], tag: str) -> Any | None:
    """The object registered for `tag`, or None when the table has no such tag."""
    target = table.get(tag)
    return None if target is None else load(target)
