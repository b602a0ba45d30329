"""Defences against runaway values, shared by every technique that decodes JSON.

A small model under a JSON grammar does not stop on its own where a person would: an
unbounded number gets digit after digit (``9321935935949928881966...``), a free string or
list goes on until ``max_tokens`` cuts the JSON off, an identifier becomes ``${:d}`` and a
date ``0260-10-13``. The decoding schema (``structured.decoding_schema``) narrows the
schema as written, and with ``Ladder.realistic`` also applies what is here:

- numbers: unbounded ones stay below 1e9 (in ``decoding_schema``), and free ``number``
  values have at most two decimals, so no run of fraction digits (``4033.8834``, ``1.000000009...``);
- dates (``format: date`` strings with no pattern): real calendar dates, 1950-2049;
- identifiers (a string property named ``id``, ``*_id``, ``*_number``, ``*_no``, ``code``,
  ``ref``...): letters, then digits, with separators: ``AP-0093``, ``INV/2024/17``, not
  ``${:d}`` or forty digits.

Records are still validated against the schema as written: these only narrow it. Every
technique gets them the same way, from ``attempt_schema`` (first try, then the ladder).
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

from .structured import DEFAULT_LADDER, Ladder, decoding_schema

# 1950-01-01 .. 2049-12-31, every month's real days (29 February allowed in any year; the
# record is still checked with format: date afterwards)
DATE_PATTERN = (r"^(19[5-9][0-9]|20[0-4][0-9])-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-9])"
                r"|(0[13-9]|1[0-2])-30|(0[13578]|1[02])-31)$")
ID_PATTERN = r"^[A-Z]{0,4}[-/#]?[0-9]{3,8}([-/][0-9A-Z]{1,8})?$"
_ID_NAME = re.compile(r"(^|_)(id|number|no|num|code|ref|reference|sku)$", re.IGNORECASE)
_NOT_ID = re.compile(r"phone|mobile|fax|zip|postal|account|iban|card|street|house", re.IGNORECASE)
# names of people and businesses: a capital, then letters, spaces and '&.- (no digits, no slashes)
NAME_PATTERN = r"^[A-Z][A-Za-z'&.-]*( [A-Za-z&'.-]+){0,5}$"
_NAME = re.compile(r"(^|_)(name|seller|buyer|customer|vendor|supplier|client|company|merchant|payee|payer|sender|"
                   r"recipient|issuer|employer|party|business|organi[sz]ation|store|shop|author|contact)$",
                   re.IGNORECASE)
_NOT_NAME = re.compile(r"file|user|host|domain|path|field|column|table|key|tag|type|code|email|url", re.IGNORECASE)

FIRST_TRY = Ladder(max_string=None, max_items=None, minimal=False, temperature=1.0, realistic=True)
RETRY_LADDER = tuple(Ladder(r.max_string, r.max_items, r.minimal, r.temperature, r.round_numbers, realistic=True)
                     for r in DEFAULT_LADDER)


def identifier_like(name: str) -> bool:
    return bool(_ID_NAME.search(name)) and not _NOT_ID.search(name)


def name_like(name: str) -> bool:
    """A field that holds a person's or a business's name (`seller`, `customer_name`, not `file_name`)."""
    return bool(_NAME.search(name)) and not _NOT_NAME.search(name)


def plausible(node: dict[str, Any], name: str | None, rung: Ladder) -> None:
    """Narrow one subschema (in place) so that its value cannot run away (see the module docstring)."""
    types = node.get("type")
    types = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else set()
    fixed = any(k in node for k in ("enum", "const", "pattern"))
    if "number" in types and not fixed and "multipleOf" not in node:
        node["multipleOf"] = 0.01  # amounts, prices, measures: two decimals read as a person writes them
    if types != {"string"} or fixed:
        return
    lo = int(node.get("minLength", 0) or 0)
    hi = node.get("maxLength")
    if node.get("format") == "date" and lo <= 10 and (hi is None or hi >= 10):
        node["pattern"] = DATE_PATTERN
        node.pop("format")  # the grammar uses the pattern; the record is validated with the format
    elif name and "format" not in node and identifier_like(name) and lo <= 3 and (hi is None or hi >= 4):
        node["pattern"] = ID_PATTERN
        if hi is None or hi > 22:
            node["maxLength"] = 22
    elif name and "format" not in node and name_like(name) and (hi is None or hi >= 3):
        node["pattern"] = NAME_PATTERN


def length_hints(schema: Mapping[str, Any], examples: list[Any]) -> dict[str, int]:
    """The longest string and the longest list the examples hold at each schema path
    (``/properties/body``, ``/properties/tags``...): the ladder caps a free string or list from
    these, not from a guess."""
    hints: dict[str, int] = {}

    def walk(value: Any, node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if isinstance(value, str):
            hints[path] = max(hints.get(path, 0), len(value))
        elif isinstance(value, list):
            hints[path] = max(hints.get(path, 0), len(value))
            if isinstance(node.get("items"), dict):
                for v in value:
                    walk(v, node["items"], f"{path}/items")
        elif isinstance(value, dict) and isinstance(node.get("properties"), dict):
            for k, v in value.items():
                if k in node["properties"]:
                    walk(v, node["properties"][k], f"{path}/properties/{str(k).replace('~', '~0').replace('/', '~1')}")

    for ex in examples:
        walk(ex, schema, "")
    return hints


def cap_from_hint(hint: int, kind: str, rung: Ladder) -> int:
    """A bound with room above what the examples show: twice the longest string (at least 20
    characters), the longest list plus one."""
    if kind == "string":
        return max(20, 2 * hint) if not rung.minimal else max(20, math.ceil(1.5 * hint))
    return max(1, hint + (0 if rung.minimal else 1))


def attempt_schema(schema: Mapping[str, Any], attempt: int, hints: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The decoding schema for try ``attempt`` (0: first try, then the retry ladder)."""
    rung = FIRST_TRY if attempt == 0 else RETRY_LADDER[min(attempt, len(RETRY_LADDER)) - 1]
    return decoding_schema(schema, rung, hints)


def rung_for(attempt: int) -> Ladder:
    return FIRST_TRY if attempt == 0 else RETRY_LADDER[min(attempt, len(RETRY_LADDER)) - 1]


# Placeholder values a small model writes when it has nothing better: "XYZ", "Xxx", "N/A", "${:d}",
# "John Doe", "company.com". Whole values only (a name that contains "Abc" is fine); words that can be
# real values (a label "none", a business "bar") are not on the list.
_PLACEHOLDER = re.compile(
    r"^\s*(x{2,}[\w/-]*|xyz[\w/.-]*|abc|n/a|tbd|tba|lorem ipsum.*|john doe|jane doe|"
    r"company(\.com)?|company name|placeholder|\$\{.*\}|\{\{.*\}\}|<[^>]*>|\[[^\]]*\])\s*$",
    re.IGNORECASE)


def placeholder_paths(value: Any, path: str = "") -> list[str]:
    """Field paths of string values that are placeholders rather than data."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in placeholder_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in placeholder_paths(v, f"{path}[{i}]")]
    if isinstance(value, str) and _PLACEHOLDER.match(value):
        return [path or "(root)"]
    return []


def same_party(label: Any) -> tuple[str, str] | None:
    """Two name fields of a record with the same value (seller == buyer), or None."""
    if not isinstance(label, dict):
        return None
    seen: dict[str, str] = {}
    for key, v in label.items():
        if not isinstance(v, str) or not v.strip() or not name_like(str(key)):
            continue
        k = v.strip().lower()
        if k in seen:
            return seen[k], key
        seen[k] = key
    return None


# a date that must not come before another one of the same record: (later field, earlier field) by name
_LATER = re.compile(r"due|end|expir|until|deliver|ship|paid|return|close|finish", re.IGNORECASE)
_EARLIER = re.compile(r"invoice|issue|start|order|begin|from|creat|open|sign|purchase", re.IGNORECASE)


def _iso_dates(label: Any) -> dict[str, str]:
    """The fields of a record that hold a `YYYY-MM-DD` string."""
    if not isinstance(label, dict):
        return {}
    return {k: v for k, v in label.items() if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)}


def date_order(label: Any) -> tuple[str, str] | None:
    """(later, earlier): a `due_date` before the `invoice_date`, an `end` before its `start`; or None."""
    dates = _iso_dates(label)
    for later, lv in dates.items():
        if not _LATER.search(later):
            continue
        for earlier, ev in dates.items():
            if earlier != later and _EARLIER.search(earlier) and not _LATER.search(earlier) and lv < ev:
                return later, earlier
    return None


_DUE = re.compile(r"due|pay_by|payable", re.IGNORECASE)
_BILLED = re.compile(r"invoice|issue|bill|order|purchase", re.IGNORECASE)
MAX_DUE_DAYS = 366


def due_span(label: Any) -> tuple[str, str, int] | None:
    """(due field, invoice field, days): a due date more than a year after the date it is due from
    (`invoice_date` 2012-12-30, `due_date` 2018-10-08); payment terms run days to months, so a
    reader takes such a record for invented. None when there is no such pair."""
    from datetime import date

    dates = {}
    for k, v in _iso_dates(label).items():
        try:
            dates[k] = date.fromisoformat(v)
        except ValueError:
            continue
    for due, dv in dates.items():
        if not _DUE.search(due):
            continue
        for billed, bv in dates.items():
            if billed != due and _BILLED.search(billed) and not _DUE.search(billed) \
                    and (dv - bv).days > MAX_DUE_DAYS:
                return due, billed, (dv - bv).days
    return None


_EG = re.compile(r"(?:\be\.g\.|\bfor example)\s*[:,]?\s*([^\s,;()]+(?:\s[^\s,;()]+)?)", re.IGNORECASE)


def schema_examples(schema: Any, path: str = "") -> dict[str, set[str]]:
    """Example values a schema shows its reader, per property path: `examples`, `default`, and the
    value after "e.g." in a `description` (``"the invoice's identifier, e.g. AP-0093"`` -> ``AP-0093``)."""
    out: dict[str, set[str]] = {}
    if not isinstance(schema, Mapping):
        return out
    shown: set[str] = set()
    for v in list(schema.get("examples") or []) + ([schema["default"]] if "default" in schema else []):
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            shown.add(str(v).strip().lower())
    for m in _EG.finditer(str(schema.get("description") or "")):
        text = m.group(1).strip().rstrip(".").strip("'\"`")
        shown.update({text.lower(), text.split()[0].lower()} if text else set())
    if shown and path:
        out[path] = shown
    for key, sub in (schema.get("properties") or {}).items():
        for p, vals in schema_examples(sub, f"{path}.{key}" if path else key).items():
            out.setdefault(p, set()).update(vals)
    if isinstance(schema.get("items"), Mapping):
        for p, vals in schema_examples(schema["items"], f"{path}[]").items():
            out.setdefault(p, set()).update(vals)
    return out


def copied_examples(value: Any, examples: Mapping[str, set[str]], path: str = "") -> list[str]:
    """Paths of values that repeat the example for that field, whatever the case, spacing and
    punctuation (a model copying, not writing)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in copied_examples(v, examples, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for v in value for p in copied_examples(v, examples, f"{path}[]")]
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and path in examples:
        return [path] if _plain(value) in {_plain(x) for x in examples[path]} else []
    return []


def _plain(value: Any) -> str:
    """A value's words, lower case, without punctuation: "Wrong company name on invoice?" copies
    "Wrong company name on invoice" as much as the same words with the same stop."""
    return " ".join(re.findall(r"\w+", str(value).lower()))


def example_values(schema: Any, examples: list[Any], *, schema_own: bool = True) -> dict[str, set[str]]:
    """What a record must not just repeat, per property path: the free-text values of the few-shot
    examples (strings of three or more words in fields that are not a fixed choice: "Charged twice for
    March" copied as a subject) and, with `schema_own`, the schema's own example values
    (`schema_examples`: `examples`, `default`, "e.g."; right for invented documents, whose ids and
    parties must not be the description's `AP-0093`, wrong for a config schema whose `default: 1` is a
    fine value to write)."""
    shown = schema_examples(schema) if schema_own else {}

    def walk(value: Any, node: Any, path: str) -> None:
        node = node if isinstance(node, Mapping) else {}
        if isinstance(value, dict):
            props = node.get("properties") if isinstance(node.get("properties"), Mapping) else {}
            for k, v in value.items():
                walk(v, props.get(k), f"{path}.{k}" if path else str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, node.get("items"), f"{path}[]")
        elif isinstance(value, str) and len(value.split()) >= 3 and not {"enum", "const"} & set(node):
            shown.setdefault(path, set()).add(value.strip().lower())

    for ex in examples:
        walk(ex, schema, "")
    return shown


def shown_texts(shown: Mapping[str, set[str]]) -> tuple[str, ...]:
    """Every value of `example_values`, in a fixed order: what a request asks the decoder not to copy
    (`GenerationRequest.avoid`, `constrain.CopyGuard`)."""
    return tuple(sorted({v for values in shown.values() for v in values}))


def record_problem(value: Any, shown: Mapping[str, set[str]]) -> tuple[str, str] | None:
    """The first thing a reader would reject in a generated record, as (reason, detail), or None:
    two parties with one name (`same_value`), a due date before its invoice date (`date_order`) or
    more than a year after it (`date_span`), a value that repeats an example instead of being written
    (`copied_example`; `shown` from `example_values`). Shared by the techniques that invent records
    (schema, documents); not for values read from a real document (extract), where the document decides."""
    from .truncation import value_at

    twins = same_party(value)
    if twins is not None:
        return "same_value", f"{twins[0]} and {twins[1]} are both {value[twins[0]]!r}"
    order = date_order(value)
    if order is not None:
        return "date_order", f"{order[0]}={value[order[0]]!r} is before {order[1]}={value[order[1]]!r}"
    span = due_span(value)
    if span is not None:
        return "date_span", (f"{span[0]}={value[span[0]]!r} is {span[2]} days after {span[1]}={value[span[1]]!r}; "
                             f"payment terms are at most {MAX_DUE_DAYS} days")
    copied = copied_examples(value, shown)
    if copied:
        return "copied_example", "an example's value, copied: " + ", ".join(
            p if "[]" in p else f"{p}={value_at(value, p)!r}" for p in copied[:4])
    return None
