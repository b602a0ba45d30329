"""Markdown primitives shared by the report's sections: user text shown literally, numbers, tables."""
from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"[\\`*\[\]<|$~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")  # `too_short` stays readable


class Md(str):
    """Text that is Markdown on purpose (not escaped)."""


def md(text: Any) -> str:
    """User text (names, reasons, values, examples) shown literally in Markdown: `[v2]`, `*`, `$5` stay as written."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(str(text).split()))


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float) and x.is_integer() and abs(x) >= 1:
        return str(int(x))
    if isinstance(x, float):
        text = f"{x:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text and abs(x) >= 1 else text
    return str(x)


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c if isinstance(c, Md) else md(fmt(c)) for c in r) + " |")
    return out
