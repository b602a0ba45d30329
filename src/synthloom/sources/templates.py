"""Quoting source text for prompts, so that a document stays data.

Document text goes into a prompt only through `quote(text, tag)`: it is wrapped
in `<tag>...</tag>` and any tag-like sequence inside it that could close or open
a block early (`</document>`, `<passage>`, ...) is defused, so an instruction
hidden in a document cannot step outside its quotes. The templates
(`synthloom/prompts/extract_*.j2`, `documents_*.j2`, `qa_*.j2`) tell the model that the
quoted text is data, and every structured answer is constrained by a JSON schema,
so the task and the output shape come from the recipe, never from a document.
"""
from __future__ import annotations

import json
import re
from typing import Any

_TAGS = ("document", "passage", "source", "data", "evidence", "record", "label")
_TAG_LIKE = re.compile(r"<\s*(/?)\s*(" + "|".join(_TAGS) + r")(?=[\s>/\d_-]|$)", re.I)


def quote(text: str, tag: str = "document") -> str:
    """`<tag>` + text + `</tag>`, with tag-like sequences inside text defused."""
    body = _TAG_LIKE.sub(lambda m: "\u2039" + m.group(1) + m.group(2), text)
    return f"<{tag}>\n{body.strip()}\n</{tag}>"


def to_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)
