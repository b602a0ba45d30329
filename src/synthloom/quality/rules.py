"""Entity rules and value checks for document-grounded data: plain functions, each testable alone.

    schema_errors(obj, validator)         jsonschema (validator: llm/jsontext.validator), format checks on
    check_rules(obj, rules, document)     declarative entity rules -> failures (`rule:<name>`)
    quote_in(quote, texts)                a verbatim quote, up to case/spacing/typography
    missing_values(label, document)       labelled values that a document lost
    misattributed_values(label, document) values a document states under another field's name
    invented_values(label, document)      dates/amounts a document mentions that the label lacks

The gates that wrap them live in one module per tag: `entities.py`, `grounding.py`,
`recoverable.py` (and `support.py`, the model-judged one).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..records import Problem
from .text import (
    as_date,
    dates_in,
    loose,
    number_in,
    numbers_in,
    parse_number,
    quote_in,
    without_dates,
)



# ---------------------------------------------------------------- paths

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d*)\]")


def resolve(obj: Any, path: str) -> list[tuple[str, Any]]:
    """Values at `path` (`a.b`, `items[].amount`, `items[0].x`) as (concrete path, value); absent -> []."""
    found: list[tuple[str, Any]] = [("", obj)]
    for m in _SEGMENT.finditer(path):
        key, index = m.group(1), m.group(2)
        nxt: list[tuple[str, Any]] = []
        for where, value in found:
            if key is not None:
                if isinstance(value, Mapping) and key in value and value[key] is not None:
                    nxt.append((f"{where}.{key}" if where else key, value[key]))
            elif isinstance(value, list):
                if index == "":
                    nxt.extend((f"{where}[{i}]", v) for i, v in enumerate(value) if v is not None)
                elif int(index) < len(value) and value[int(index)] is not None:
                    nxt.append((f"{where}[{index}]", value[int(index)]))
        found = nxt
    return found


def leaves(obj: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar (str, int, float, bool) in a JSON value with its path."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from leaves(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{where}[{i}]")
    elif obj is not None:
        yield where, obj


def _generic(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


# ---------------------------------------------------------------- schema


def schema_errors(obj: Any, validator: Any) -> list[tuple[str, str]]:
    """(keyword, message) for each violation, best first."""
    import jsonschema

    errors = sorted(validator.iter_errors(obj), key=jsonschema.exceptions.relevance)
    out = []
    for e in errors:
        loc = "/".join(map(str, e.absolute_path)) or "(top)"
        out.append((str(e.validator), f"{loc}: {e.message[:200]}"))
    return out


# ---------------------------------------------------------------- entity rules


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        return parse_number(re.sub(r"[^\d.,\-+' ]", "", v))
    return None


def check_rule(obj: Any, rule: Any, document: str | None = None) -> list[Problem]:
    """Failures of one rule (a config.documents rule model, or a dict with the same fields)."""
    r = _as_ns(rule)
    name = r.get("name") or r["rule"]
    reason = f"rule:{name}"
    kind = r["rule"]
    fails: list[Problem] = []
    if kind == "date":
        formats = r.get("formats") or ["%Y-%m-%d"]
        lo = dt.date.fromisoformat(r["min"]) if r.get("min") else None
        hi = dt.date.fromisoformat(r["max"]) if r.get("max") else None
        for where, v in resolve(obj, r["field"]):
            d = None
            for f in formats:
                try:
                    d = dt.datetime.strptime(str(v).strip(), f).date()
                    break
                except ValueError:
                    continue
            if d is None:
                fails.append(Problem(reason, f"{where}={v!r} is not a real date in {' or '.join(formats)}"))
            elif (lo and d < lo) or (hi and d > hi):
                fails.append(Problem(reason, f"{where}={v} is outside {r.get('min') or '...'}..{r.get('max') or '...'}"))
    elif kind == "range":
        for where, v in resolve(obj, r["field"]):
            x = _num(v)
            if x is None:
                fails.append(Problem(reason, f"{where}={v!r} is not a number"))
            elif (r.get("min") is not None and x < r["min"]) or (r.get("max") is not None and x > r["max"]):
                fails.append(Problem(reason, f"{where}={v} is outside [{r.get('min')}, {r.get('max')}]"))
    elif kind == "sum":
        totals = resolve(obj, r["total"])
        if totals:
            addends = [(w, _num(v)) for w, v in resolve(obj, r["items"])]
            bad = [w for w, x in addends if x is None]
            total = _num(totals[0][1])
            if bad or total is None:
                fails.append(Problem(reason, f"not numbers: {', '.join(bad or [r['total']])}"))
            else:
                s = sum(x for _, x in addends if x is not None)
                tol = r.get("tolerance", 0.01)
                if abs(s - total) > tol + 1e-9:
                    fails.append(Problem(reason, f"{r['items']} add up to {s:.2f} but {r['total']} is {total:.2f} (tolerance {tol})"))
    elif kind == "in_document":
        if document is None:
            fails.append(Problem(reason, "no source document to check against"))
        else:
            if r.get("fields"):
                targets = [pair for f in r["fields"] for pair in resolve(obj, f)]
            else:
                targets = [(w, v) for w, v in leaves(obj)
                           if isinstance(v, str) or (r.get("numbers") and isinstance(v, (int, float)))]
            doc_loose = f" {loose(document)} "
            for where, v in targets:
                if isinstance(v, str):
                    lv = loose(v)
                    if lv and f" {lv} " not in doc_loose and not (as_date(v) and as_date(v) in dates_in(document)):
                        fails.append(Problem(reason, f"{where}={v[:80]!r} does not occur in the document"))
                elif isinstance(v, (int, float)) and not isinstance(v, bool) and r.get("numbers"):
                    if not number_in(float(v), document):
                        fails.append(Problem(reason, f"{where}={v} does not occur in the document"))
    elif kind == "pattern":
        rx = re.compile(r["regex"])
        for where, v in resolve(obj, r["field"]):
            if not isinstance(v, str) or not rx.fullmatch(v):
                fails.append(Problem(reason, f"{where}={v!r} does not match /{r['regex']}/"))
    elif kind == "distinct":
        found = [(w, v) for f in r["fields"] for w, v in resolve(obj, f)]
        seen: dict[str, str] = {}
        for where, v in found:
            key = loose(str(v))
            if key in seen:
                fails.append(Problem(reason, f"{where} repeats {seen[key]} ({str(v)[:60]!r})"))
            else:
                seen[key] = where
    elif kind == "order":
        fails.extend(_order_failures(obj, r, name))
    else:
        raise ValueError(f"unknown entity rule {kind!r}")
    return fails


def _ordered(v: Any) -> dt.date | float | None:
    """A value a rule can order: an ISO date, or a number."""
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v.strip()[:10]) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()[:10]) else _num(v)
        except ValueError:
            return None
    return _num(v)


def _order_failures(obj: Any, r: Mapping[str, Any], name: str) -> list[Problem]:
    """`field` after (or before) the other field, and for dates within `within_days` / at least `min_days`."""
    other_path = r.get("after") or r.get("before")
    others = resolve(obj, other_path)
    reason = f"rule:{name}"
    fails: list[Problem] = []
    for where, v in resolve(obj, r["field"]):
        if not others:
            continue  # an absent field is the schema's business (required), not this rule's
        other_where, ov = others[0]
        a, b = _ordered(v), _ordered(ov)
        if a is None or b is None or isinstance(a, dt.date) != isinstance(b, dt.date):
            fails.append(Problem(reason, f"{where}={v!r} and {other_where}={ov!r} cannot be ordered"))
            continue
        later, earlier = (a, b) if r.get("after") else (b, a)
        word = "after" if r.get("after") else "before"
        if later < earlier:
            fails.append(Problem(reason, f"{where}={v!r} is not {word} {other_where}={ov!r}"))
        elif isinstance(a, dt.date):
            gap = (later - earlier).days
            if r.get("within_days") is not None and gap > r["within_days"]:
                fails.append(Problem(reason, f"{where}={v!r} is {gap} days {word} {other_where}={ov!r} "
                                               f"(at most {r['within_days']})"))
            elif gap < (r.get("min_days") or 0):
                fails.append(Problem(reason, f"{where}={v!r} is {gap} days {word} {other_where}={ov!r} "
                                               f"(at least {r['min_days']})"))
    return fails


def describe_rule(rule: Any) -> str:
    """One rule as a reader says it: `order: due_date after invoice_date, within 120 days`."""
    r = _as_ns(rule)
    kind = r["rule"]
    if kind == "order":
        side = f"after {r['after']}" if r.get("after") else f"before {r['before']}"
        bits = [f"{r['field']} {side}"]
        if r.get("within_days") is not None:
            bits.append(f"within {r['within_days']} days")
        if r.get("min_days"):
            bits.append(f"at least {r['min_days']} days")
        text = ", ".join(bits)
    elif kind == "distinct":
        text = " / ".join(r["fields"]) + " all differ"
    elif kind == "sum":
        text = f"{r['items']} add up to {r['total']}"
    elif kind in ("range", "date"):
        lo, hi = r.get("min"), r.get("max")
        bounds = [f"from {lo}"] * (lo is not None) + [f"up to {hi}"] * (hi is not None)
        text = f"{r['field']} " + (" ".join(bounds) if bounds else "is a real date")
    elif kind == "pattern":
        text = f"{r['field']} matches /{r['regex']}/"
    else:
        text = ", ".join(r.get("fields") or []) or "every string value"
        text += " occur in the document"
    label = r.get("name") or kind
    return f"rule:{label}: {text}"


def check_rules(obj: Any, rules: Sequence[Any], document: str | None = None) -> list[Problem]:
    out: list[Problem] = []
    for rule in rules:
        out.extend(check_rule(obj, rule, document))
    return out


def _as_ns(rule: Any) -> dict[str, Any]:
    if isinstance(rule, Mapping):
        return dict(rule)
    return rule.model_dump()


def validate_object(obj: Any, *, validator: Any = None, rules: Sequence[Any] = (),
                    document: str | None = None) -> Problem | None:
    """(reason, detail) for the first problem (schema first, then rules), or None when the object is valid."""
    if validator is not None:
        errs = schema_errors(obj, validator)
        if errs:
            return Problem(f"schema:{errs[0][0]}", "; ".join(m for _, m in errs[:3]))
    fails = check_rules(obj, rules, document)
    if fails:
        return Problem(fails[0].reason, "; ".join(f.detail for f in fails[:5]))
    return None


def apply_derive(obj: Any, derive: Sequence[Any]) -> Any:
    """A copy of obj with derived fields computed (`sum` of a path, or `product` of sibling fields)."""
    import copy

    out = copy.deepcopy(obj)
    for d in derive:
        d = _as_ns(d)
        parent_path, _, leaf = d["field"].rpartition(".")
        parents = [v for _, v in resolve(out, parent_path)] if parent_path else [out]
        if parent_path.endswith("[]"):
            parents = [p for p in parents if isinstance(p, dict)]
        for parent in parents:
            if not isinstance(parent, dict):
                continue
            if d.get("product"):
                factors = [_num(parent.get(f)) for f in d["product"]]
                if all(f is not None for f in factors):
                    value = 1.0
                    for f in factors:
                        value *= f  # type: ignore[operator]
                    parent[leaf] = round(value, d.get("digits", 2))
            else:
                values = [_num(v) for _, v in resolve(out, d["sum"])]
                parent[leaf] = round(sum(v for v in values if v is not None), d.get("digits", 2))
    return out


# ---------------------------------------------------------------- labelled values vs. a document


def value_in(value: Any, document: str, match: str = "normalized", *, _doc_loose: str | None = None) -> bool:
    """Whether the document states `value`. A number (or a string of digits) counts only as a number of its
    own: the 12 of `12:30` or `2024-12-01` is part of a time or a date (`text.without_dates`)."""
    if isinstance(value, bool):
        return True  # yes/no flags are rarely written verbatim
    if isinstance(value, (int, float)):
        return number_in(float(value), without_dates(document))
    text = str(value)
    if match == "exact":
        return text in document
    d = as_date(text)
    if d is not None and d in dates_in(document):
        return True
    if re.fullmatch(r"[\s$€£¥\d.,'+-]+", text):
        document, _doc_loose = without_dates(document), None
    lv = loose(text)
    doc_loose = _doc_loose if _doc_loose is not None else f" {loose(document)} "
    if lv and f" {lv} " in doc_loose:
        return True
    x = _num(text) if re.fullmatch(r"[\s$€£¥\d.,'+-]+", text) else None
    return x is not None and number_in(x, document)


def missing_values(label: Any, document: str, match: str = "normalized",
                   skip: Sequence[str] = ()) -> list[tuple[str, Any]]:
    """Labelled scalars that cannot be found in the document."""
    skip_generic = {_generic(s) for s in skip}
    doc_loose = f" {loose(document)} "
    out = []
    for where, v in leaves(label):
        if _generic(where) in skip_generic or where in skip:
            continue
        if isinstance(v, str) and not v.strip():
            continue
        if not value_in(v, document, match, _doc_loose=doc_loose):
            out.append((where, v))
    return out


def _field_key(name: str) -> str:
    return " ".join(w for w in re.split(r"[\s_.\-]+", name.lower()) if w)


def misattributed_values(label: Any, document: str, match: str = "normalized",
                         skip: Sequence[str] = ()) -> list[str]:
    """Labelled values the document states under another field's name, read from its `key: value`
    lines: the seller's name as `buyer: ...`, or a due date whose value only appears as `invoice_date:`
    while no line names the due date. A line counts when its key is a label field's name (case,
    spaces and underscores aside) that exactly one field has; prose and unknown keys are left alone,
    so a document that words things its own way passes."""
    skip_generic = {_generic(x) for x in skip}
    scalars = [(w, v) for w, v in leaves(label) if not isinstance(v, bool) and str(v).strip()
               and _generic(w) not in skip_generic and w not in skip]
    key_of = {w: _field_key(re.sub(r"\[\d*\]", "", w.rsplit(".", 1)[-1])) for w, _ in scalars}
    fields_by_key: dict[str, list[str]] = {}
    for w, key in key_of.items():
        fields_by_key.setdefault(key, []).append(w)
    if not fields_by_key:
        return []
    # "Order number: NW-1001    Order date: March 5, 2024": a line may name several fields
    names = "|".join(r"[\s_.\-]+".join(map(re.escape, k.split())) for k in sorted(fields_by_key, key=len, reverse=True))
    key_at = re.compile(rf"(?<![A-Za-z0-9])({names})\s*[:=]", re.IGNORECASE)
    keyed: list[tuple[str, str]] = []  # (field a `key:` names, what follows it up to the next key)
    rest: list[str] = []  # everything else
    for line in document.splitlines():
        found = list(key_at.finditer(line))
        rest.append(line[: found[0].start()] if found else line)
        for m, nxt in zip(found, [*found[1:], None]):
            text = line[m.end(): nxt.start() if nxt else len(line)].strip()
            named = fields_by_key[_field_key(m.group(1))]
            if len(named) == 1 and text:
                keyed.append((named[0], text))
            else:
                rest.append(text)
    if not keyed:
        return []
    values = dict(scalars)
    out: list[str] = []
    for field, text in keyed:
        if value_in(values[field], text, match):
            continue
        others = [w for w, v in scalars if w != field and value_in(v, text, match)]
        if others:
            out.append(f"{field}: {text[:40]!r} is the label's {others[0]}")
    named_fields = {f for f, _ in keyed}
    rest_text = "\n".join(rest)
    for field, value in scalars:
        if field in named_fields or len(fields_by_key[key_of[field]]) != 1:
            continue
        # a line that holds its own field's (other) value as well ("Places: 2 - paid 40") states this one too
        hits = [f for f, text in keyed if value_in(value, text, match) and (
            loose(str(values[f])) == loose(str(value)) or not value_in(values[f], text, match))]
        if hits and not value_in(value, rest_text, match):
            out.append(f"{field} is not stated: {value!r} appears only as {hits[0]}")
    return out


def invented_values(label: Any, document: str, kinds: Sequence[str] = ("date", "amount")) -> list[str]:
    """Dates or amounts the document states that the label does not hold (sums of labelled lists allowed)."""
    out: list[str] = []
    scalars = list(leaves(label))
    if "date" in kinds:
        known = {d for _, v in scalars for d in [as_date(v)] if d is not None}
        for d in sorted(dates_in(document) - known):
            out.append(f"date {d.isoformat()}")
    if "amount" in kinds:
        nums = [(w, float(v)) for w, v in scalars if isinstance(v, (int, float)) and not isinstance(v, bool)]
        nums += [(w, x) for w, v in scalars if isinstance(v, str) for x in [_num(v)]
                 if x is not None and re.fullmatch(r"[\s$€£¥\d.,'+-]+", v)]
        allowed = [x for _, x in nums]
        groups: dict[str, float] = {}
        for w, x in nums:
            if "[" in w:
                groups[_generic(w)] = groups.get(_generic(w), 0.0) + x
        allowed += list(groups.values())
        for v, is_amount in numbers_in(document):
            if is_amount and not any(abs(v - a) <= 0.005 for a in allowed):
                out.append(f"amount {v:g}")
    return sorted(set(out))
