"""Defences against runaway values, shared by every technique that decodes JSON.

A small model under a JSON grammar does not stop on its own where a person would: an
unbounded number gets digit after digit (``9321935935949928881966...``), a free string or
list goes on until ``max_tokens`` cuts the JSON off, an identifier becomes ``${:d}``. What holds
in every domain is here and in the decoder (numbers below 1e9 where the schema and the examples
set no bound, loops and digit runs broken while decoding: ``constrain.break_runaways``); caps on
strings and lists come from the examples' lengths (`length_hints`); everything else the decoder
narrows is learned from what the user wrote (``narrowing.learn``), never from a field's name.

Records are still validated against the schema as written: these only narrow it. Every
technique gets them the same way, from ``attempt_schema`` (first try, then the ladder).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .narrowing import NONE, Narrowings, field_name, shown_in_schema
from .structured import DEFAULT_LADDER, Ladder, decoding_schema

FIRST_TRY = Ladder(max_string=None, max_items=None, minimal=False, temperature=1.0, realistic=True)
RETRY_LADDER = tuple(Ladder(r.max_string, r.max_items, r.minimal, r.temperature, r.round_numbers, realistic=True)
                     for r in DEFAULT_LADDER)


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


def attempt_schema(schema: Mapping[str, Any], attempt: int, hints: Mapping[str, int] | None = None,
                   narrowings: Narrowings = NONE) -> dict[str, Any]:
    """The decoding schema for try ``attempt`` (0: first try, then the retry ladder), with what
    ``narrowing.learn`` found in the schema and the examples."""
    learned = {p: narrowings.keywords(p) for p in narrowings.by_path}
    return decoding_schema(schema, rung_for(attempt), hints, learned)


# what the retry rungs narrow, for the manifest and report (the first try has none of it)
RETRY_NOTE = ("retries (after a failed try): free strings and lists capped at twice the examples' longest "
              "(else 160, then 60, then 30 characters; 3, 2, 1 items), numbers without a learned precision "
              "rounded to 0.01, then only the required fields")


def rung_for(attempt: int) -> Ladder:
    return FIRST_TRY if attempt == 0 else RETRY_LADDER[min(attempt, len(RETRY_LADDER)) - 1]


def schema_examples(schema: Any) -> dict[str, set[str]]:
    """Example values a schema shows its reader, per property path (`code`, `items[].sku`), lower case:
    `examples`, `default`, and the value after "e.g." in a `description` (``"the record's identifier, e.g.
    AP-0093"`` -> ``ap-0093``); `narrowing.shown_in_schema` reads them."""
    return {field_name(pointer): {str(v).strip().lower() for v in values}
            for pointer, values in shown_in_schema(schema, any_type=True).items() if pointer}


def copied_examples(value: Any, examples: Mapping[str, set[str]], path: str = "") -> list[str]:
    """Paths of values that repeat an example for that field, whatever the case, spacing and
    punctuation, or nearly (`near_copy`): a model copying, not writing."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in copied_examples(v, examples, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for v in value for p in copied_examples(v, examples, f"{path}[]")]
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and path in examples:
        return [path] if any(near_copy(value, x) for x in examples[path]) else []
    return []


NEAR_COPY_WORDS = 6  # an example of this many words or more is copied when its words come back nearly all
NEAR_COPY_SHARE = 0.8  # ... in its order: "past two old mills and a footbridge" for "... and a waterfall"


def near_copy(value: Any, example: Any) -> bool:
    """Whether `value` repeats `example`: the same words (case, spacing and punctuation aside) or, for an
    example of `NEAR_COPY_WORDS` or more words, at least `NEAR_COPY_SHARE` of its words in its order
    (`in_order_share`): one or two words swapped, or a sentence added, is still the example."""
    a, b = _plain(value), _plain(example)
    if a == b:
        return True
    ex = b.split()
    return len(ex) >= NEAR_COPY_WORDS and in_order_share(a.split(), ex) >= NEAR_COPY_SHARE


def in_order_share(mine: list[str], theirs: list[str]) -> float:
    """The share of `theirs` (words) that `mine` holds in the same order: their longest common subsequence
    over len(theirs). A changed or added word costs one word, not the several n-grams that cross it."""
    if not theirs:
        return 0.0
    previous = [0] * (len(theirs) + 1)
    for x in mine:
        current = [0]
        for j, y in enumerate(theirs):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(theirs)


def _plain(value: Any) -> str:
    """A value's words, lower case, without punctuation: "Wrong name on the form?" copies
    "Wrong name on the form" as much as the same words with the same stop."""
    return " ".join(re.findall(r"\w+", str(value).lower()))


def example_values(schema: Any, examples: list[Any], *, schema_own: bool = True) -> dict[str, set[str]]:
    """What a record must not just repeat, per property path: the free-text values of the few-shot
    examples (strings of three or more words in fields that are not a fixed choice: an example's subject
    line copied as a subject) and, with `schema_own`, the schema's own example values
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
    """What a reader would reject in a generated record whatever its domain, as (reason, detail), or None:
    a value that repeats an example instead of being written (`copied_example`; `shown` from
    `example_values`). Shared by the techniques that invent records (schema, documents); not for values
    read from a real document (extract), where the document decides. Cross-field rules (an order of
    dates, distinct parties, a sum) are the recipe's to declare (`rules:`), never guessed from names."""
    from .truncation import value_at

    copied = copied_examples(value, shown)
    if copied:
        def shown_as(p: str) -> str:
            if "[]" in p:
                return p
            v = value_at(value, p)
            near = [x for x in sorted(shown[p]) if _plain(v) != _plain(x) and near_copy(v, x)]
            return f"{p}={v!r}" + (f" (nearly: the example {near[0][:60]!r}, most of its words in order)"
                                   if near and not any(_plain(v) == _plain(x) for x in shown[p]) else "")

        return "copied_example", "an example's value, copied: " + ", ".join(shown_as(p) for p in copied[:4])
    return None
