"""What the decoder may narrow in a user's schema, learned only from what the user wrote.

A small model under a JSON grammar writes what the grammar allows, not what a reader expects: a
currency code `GBK-1853`, a date in year 0260, a run of fraction digits. The cure is to narrow
the schema for the decoder, and the only fair source for that is the user: the schema's own
keywords, the values it shows (`examples`, `default`, an "e.g." in a description) and the
recipe's few-shot examples. Never a field's name, never a domain.

- **shape**: a short string whose examples (at least two) are all code-like (no spaces; a digit,
  a separator, or capitals only) and share one skeleton (`PLN`/`EUR` -> ``[A-Z]{3}``,
  `1867-11-07`/`1858-04-23` -> ``[0-9]{4}-[0-9]{2}-[0-9]{2}``, two UUIDs, `#1f77b4`/`#ff7f0e`)
  gets that pattern. Free text (words, names, sentences) is never narrowed.
- **date**: a `format: date` string is a real calendar date; its years are those of its examples'
  era, 50 years either side in whole decades (`1867`, `1852` -> 1800-1919), else 1000-2999.
- **number**: a number with at least two examples keeps their precision (`0.0035` -> multiples
  of 0.0001; whole examples -> whole numbers) and magnitude (below a thousand times the largest's
  order of ten: `4.6` -> below 1000).

Each narrowing is a `Narrowing`: the keywords it adds and a line for the manifest and report
(`currency_code: pattern ^[A-Z]{3}$ from 2 examples`). `NarrowingSettings` switches each kind off,
or a field. Records are always validated against the schema as written: these only narrow it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

MIN_EXAMPLES = 2  # one value shows a format, not a shape that all values share
MAX_SHAPE_LEN = 64  # longer values are text, not codes

# character classes of an alphanumeric run, smallest first: a run takes the first that holds every
# character its examples use at that place
_CLASSES = (("[0-9]", set("0123456789")), ("[0-9a-f]", set("0123456789abcdef")),
            ("[0-9A-F]", set("0123456789ABCDEF")), ("[A-Z]", set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
            ("[a-z]", set("abcdefghijklmnopqrstuvwxyz")), ("[A-Z0-9]", set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")),
            ("[a-z0-9]", set("abcdefghijklmnopqrstuvwxyz0123456789")),
            ("[A-Za-z]", set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")),
            ("[A-Za-z0-9]", set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")))
_HEX = ("[0-9a-f]", "[0-9A-F]")
_WORDISH = ("[a-z]", "[a-z0-9]", "[A-Za-z]", "[A-Za-z0-9]")
_RUN = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9]")
_META = set(".^$*+?()[]{}|\\")


def _literal(c: str) -> str:
    """One separator as a regex (only regex metacharacters escaped: llguidance reads `-`, `#`, `@` as they are)."""
    return "\\" + c if c in _META else c


@dataclass(frozen=True)
class Narrowing:
    """One narrowing of one field: the keywords added to its subschema, and why."""

    path: str  # JSON pointer into the schema: /properties/birth_date
    kind: str  # shape | date | number
    keywords: tuple[tuple[str, Any], ...]
    source: str  # "2 examples", "format: date", ...

    @property
    def field(self) -> str:
        return field_name(self.path)

    def line(self) -> str:
        kw = dict(self.keywords)
        if self.kind == "shape":
            what = f"pattern {kw['pattern']}"
        elif self.kind == "date":
            what = f"real calendar date, years {kw['_years']}"
        else:
            bits = []
            if "multipleOf" in kw:
                bits.append("whole numbers" if kw["multipleOf"] == 1 else f"multiples of {kw['multipleOf']:g}")
            if "maximum" in kw:
                bits.append(f"|x| < {kw['maximum']:g}")
            what = ", ".join(bits)
        return f"{self.field}: {what} (from {self.source})"


def field_name(pointer: str) -> str:
    """`/properties/authors/items/properties/orcid` -> `authors[].orcid`: a schema path as a reader names the field."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    out, i = "", 0
    while i < len(parts):
        if parts[i] == "properties" and i + 1 < len(parts):
            out += f".{parts[i + 1]}" if out else parts[i + 1]
            i += 2
        else:  # items
            out += "[]"
            i += 1
    return out or "(root)"


def _json_keywords(n: Narrowing) -> dict[str, Any]:
    return {k: v for k, v in n.keywords if not k.startswith("_")}


@dataclass(frozen=True)
class Narrowings:
    """Every narrowing learned for one schema, by schema path."""

    by_path: Mapping[str, tuple[Narrowing, ...]]

    def keywords(self, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for n in self.by_path.get(path, ()):
            out.update(_json_keywords(n))
        return out

    def lines(self) -> list[str]:
        return [n.line() for ns in self.by_path.values() for n in ns]

    def __bool__(self) -> bool:
        return bool(self.by_path)


NONE = Narrowings({})


def example_values_by_path(schema: Mapping[str, Any], examples: Iterable[Any]) -> dict[str, list[Any]]:
    """Every scalar the examples hold, per schema path (``/properties/code``, ``/properties/tags/items``),
    plus the schema's own shown values (`examples`, `default`, "e.g.")."""
    out: dict[str, list[Any]] = {}

    def walk(value: Any, node: Any, path: str) -> None:
        if not isinstance(node, Mapping):
            return
        if isinstance(value, dict) and isinstance(node.get("properties"), Mapping):
            for k, v in value.items():
                if k in node["properties"]:
                    walk(v, node["properties"][k], f"{path}/properties/{_escape(k)}")
        elif isinstance(value, list):
            if isinstance(node.get("items"), Mapping):
                for v in value:
                    walk(v, node["items"], f"{path}/items")
        elif value is not None and not isinstance(value, bool):
            out.setdefault(path, []).append(value)

    for ex in examples:
        walk(ex, schema, "")
    shown_in_schema(schema, "", out)
    return out


_EG = re.compile(r"(?:\be\.g\.|\bfor example)\s*[:,]?\s*([^\s,;()]+)", re.IGNORECASE)


def eg_values(description: str) -> list[str]:
    """The values a description shows after "e.g." or "for example" (`"an id, e.g. AP-0093"` -> `AP-0093`)."""
    return [t for m in _EG.finditer(description) for t in [m.group(1).rstrip(".").strip("'\"`")] if t]


def shown_in_schema(node: Any, path: str = "", out: dict[str, list[Any]] | None = None, *,
                    any_type: bool = False) -> dict[str, list[Any]]:
    """The values a schema shows its reader, per schema path: `examples`, `default`, and what a
    `description` gives after "e.g." (for string fields only, unless `any_type`)."""
    out = {} if out is None else out
    if not isinstance(node, Mapping):
        return out
    shown = [v for v in (node.get("examples") or []) if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    if "default" in node and isinstance(node["default"], (str, int, float)) and not isinstance(node["default"], bool):
        shown.append(node["default"])
    if node.get("description") and (any_type or _types(node) == {"string"}):
        shown += eg_values(str(node["description"]))
    if shown:
        out.setdefault(path, []).extend(shown)
    for k, sub in (node.get("properties") or {}).items() if isinstance(node.get("properties"), Mapping) else []:
        shown_in_schema(sub, f"{path}/properties/{_escape(k)}", out, any_type=any_type)
    if isinstance(node.get("items"), Mapping):
        shown_in_schema(node["items"], f"{path}/items", out, any_type=any_type)
    return out


def _escape(name: Any) -> str:
    return str(name).replace("~", "~0").replace("/", "~1")


def _types(node: Mapping[str, Any]) -> set[str]:
    t = node.get("type")
    return {t} if isinstance(t, str) else set(t) if isinstance(t, list) else set()


# ---------------------------------------------------------------- shapes of short strings


def code_like(value: str) -> bool:
    """A value that is a code rather than words: no spaces, and a digit, a separator or capitals only."""
    if not value or len(value) > MAX_SHAPE_LEN or any(c.isspace() for c in value):
        return False
    return any(c.isdigit() for c in value) or not value.isalnum() or (value.isalpha() and value.isupper())


def shape_pattern(values: list[str]) -> str | None:
    """The pattern every value shares (same separators in the same places, alphanumeric runs of one class),
    or None when they do not share one. Run lengths: codes (digits, capitals, hex) exact when the examples
    agree, else from the shortest to twice the longest; runs with lower-case letters up to twice the longest."""
    if len(values) < MIN_EXAMPLES or not all(isinstance(v, str) and code_like(v) for v in values):
        return None
    runs = [_RUN.findall(v) for v in values]
    if len({len(r) for r in runs}) != 1:
        return None
    parts: list[str] = []
    for column in zip(*runs):
        if not column[0][0].isalnum():
            if len(set(column)) != 1:
                return None
            parts.append(_literal(column[0]))
            continue
        if not all(c[0].isalnum() for c in column):
            return None
        chars = set("".join(column))
        # a hex class only on evidence: at least 8 characters with a letter (by chance, 8 letters and digits
        # all fall in 0-9A-F under 0.2% of the time)
        hex_ok = len("".join(column)) >= 8 and any(c.isalpha() for c in chars)
        cls = next((name for name, members in _CLASSES
                    if chars <= members and (hex_ok or name not in _HEX)), None)
        if cls is None:  # non-ASCII letters: leave the value free
            return None
        lo, hi = min(map(len, column)), max(map(len, column))
        if cls in _WORDISH:  # lower-case letters are parts of words (a name in an address): any length
            parts.append(f"{cls}{{1,{2 * hi}}}")
        elif lo == hi:  # codes: `PL`, `2024`, a hex block; one digit may be two (`2.4.1` -> `2.10.1`)
            parts.append(f"{cls}{{{lo}}}" if lo > 1 else f"{cls}{{1,2}}")
        else:
            parts.append(f"{cls}{{{lo},{2 * hi}}}")
    return "^" + "".join(parts) + "$"


# ---------------------------------------------------------------- dates

_ISO = re.compile(r"^(\d{4})-\d{2}-\d{2}$")
_MONTH_DAY = r"((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-9])|(0[13-9]|1[0-2])-30|(0[13578]|1[02])-31)"


ERA_YEARS = 50  # a date's era: the examples' years, this many either side (whole decades)


def date_pattern(example_years: list[int]) -> tuple[str, str]:
    """A real calendar date (29 February in any year; the record is checked with `format: date`
    afterwards), and its years in words. Years: the examples' era (their decades, `ERA_YEARS` either
    side: `1867`, `1852` -> 1800-1919); without examples 1000-2999."""
    if example_years:
        first = max(0, (min(example_years) - ERA_YEARS) // 10)
        last = min(999, (max(example_years) + ERA_YEARS) // 10)
        decades = "|".join(f"{d:03d}" for d in range(first, last + 1))
        return f"^({decades})[0-9]-{_MONTH_DAY}$", f"{first * 10:04d}-{last * 10 + 9:04d}"
    return f"^[12][0-9]{{3}}-{_MONTH_DAY}$", "1000-2999"


# ---------------------------------------------------------------- numbers


def decimals(x: float | int) -> int:
    """Digits after the point as written (`0.0035` -> 4, `49.0` -> 0, `120.5` -> 1)."""
    try:
        d = Decimal(repr(x)).normalize()
    except InvalidOperation:
        return 0
    return max(0, -d.as_tuple().exponent) if d.as_tuple().exponent < 0 else 0


def number_keywords(node: Mapping[str, Any], values: list[Any]) -> dict[str, Any]:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(nums) < MIN_EXAMPLES:
        return {}
    out: dict[str, Any] = {}
    if "number" in _types(node) and "multipleOf" not in node:
        d = max(decimals(v) for v in nums)
        out["multipleOf"] = 1 if d == 0 else float(f"1e-{d}")
    top = max(abs(v) for v in nums)
    has_max = "maximum" in node or "exclusiveMaximum" in node
    has_min = "minimum" in node or "exclusiveMinimum" in node
    if top > 0 and not (has_max and has_min):
        bound = 10 ** (math.floor(math.log10(top)) + 3)  # below a thousand times the largest's order
        if not has_max:
            out["maximum"] = bound
        if not has_min:
            out["minimum"] = -bound
    return out


# ---------------------------------------------------------------- all of it


def learn(schema: Mapping[str, Any], examples: Iterable[Any], *, shapes: bool = True, dates: bool = True,
          numbers: bool = True, skip: Iterable[str] = ()) -> Narrowings:
    """The narrowings the schema and its examples support (see the module docstring). `skip`: field
    paths as `Narrowing.field` names them (`birth_date`, `authors[].orcid`) left as written."""
    values = example_values_by_path(schema, examples)
    skipped = set(skip)
    found: dict[str, list[Narrowing]] = {}

    def visit(node: Any, path: str) -> None:
        if not isinstance(node, Mapping):
            return
        add = _narrow_one(node, path, values.get(path, []), shapes, dates, numbers)
        if add is not None and add.field not in skipped:
            found.setdefault(path, []).append(add)
        props = node.get("properties")
        if isinstance(props, Mapping):
            for k, sub in props.items():
                visit(sub, f"{path}/properties/{_escape(k)}")
        if isinstance(node.get("items"), Mapping):
            visit(node["items"], f"{path}/items")

    visit(schema, "")
    return Narrowings({p: tuple(ns) for p, ns in found.items()})


def _narrow_one(node: Mapping[str, Any], path: str, values: list[Any], shapes: bool, dates: bool,
                numbers: bool) -> Narrowing | None:
    types = _types(node)
    if any(k in node for k in ("enum", "const")):
        return None
    strings = [v for v in values if isinstance(v, str)]
    if types == {"string"} and "pattern" not in node:
        if node.get("format") == "date":
            if not dates:
                return None
            lo, hi = int(node.get("minLength", 0) or 0), node.get("maxLength")
            if lo > 10 or (hi is not None and hi < 10):
                return None
            years = [int(m.group(1)) for v in strings for m in [_ISO.match(v)] if m]
            pattern, in_words = date_pattern(years)
            source = f"format: date and {len(years)} examples" if years else "format: date"
            return Narrowing(path, "date", (("pattern", pattern), ("_years", in_words)), source)
        if shapes and "format" not in node:
            distinct = sorted(set(strings))
            pattern = shape_pattern(distinct)
            if pattern is None:
                return None
            lo, hi = int(node.get("minLength", 0) or 0), node.get("maxLength")
            if any(len(v) < lo or (hi is not None and len(v) > hi) for v in distinct):
                return None
            return Narrowing(path, "shape", (("pattern", pattern),), f"{len(distinct)} examples")
        return None
    if numbers and types and types <= {"number", "integer"}:
        kw = number_keywords(node, values)
        if kw:
            n = len([v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)])
            return Narrowing(path, "number", tuple(kw.items()), f"{n} examples")
    return None
