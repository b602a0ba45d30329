"""Does a generated value read as what its field is? Judged only from what the user wrote.

A small model writing a record under a JSON grammar fills a free string with whatever the grammar allows:
a place "P.1,49", a choir "Jews for the Young People', ", a start time "27:90". The schema's own words
(type, enum, const, pattern, format) and the values it and the recipe's examples show say what a value
of a field looks like; a value that does not is rejected where the record is written (`value:<kind>`),
before a document or a second record carries it. Each string field that is free (no enum, const,
pattern or format: jsonschema judges those) is checked for:

- `cut`: a mark of a cut (`acceptance.cut_problem`): an unclosed quote or bracket, an ending on `,` or on
  "the" (not its word-list guess of a word cut short, which reads names as cut); unless an example of the
  field carries the same mark;
- `debris`: JSON or list debris, a run of punctuation (`acceptance.readable_problem`, not as prose);
- `not_words`: when every example of the field reads as words (at least `WORDS_SHARE` of its visible
  characters letters; two examples or more), a value under half letters or without a word of two letters
  ("P.1,49" for a field whose examples are "Elm Park" and "Mill Street"); a field with fewer examples is not
  judged;
- `not_a_time`: when two or more examples are all clock times (`18:30`, `7:30 pm`), a value that is not
  a real one (`27:90`, `noon-ish`).

`ValueFit(schema, examples)` learns this once per recipe; `problem(record)` returns (reason, detail) for
the first value that fails, naming the field, the value and what its examples look like.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from ..llm.narrowing import example_values_by_path, field_name
from .acceptance import cut_problem, readable_problem

WORDS_SHARE = 0.8  # an example whose visible characters are at least this share letters is words
MIN_LETTERS = 0.5  # a value of a words field needs at least this share of letters ...
_WORD = re.compile(r"[^\W\d_]{2,}")  # ... and a word of two letters
_CLOCK = re.compile(r"\s*(\d{1,2})[:.](\d{2})(?:\s*([ap])\.?m\.?)?\s*|\s*(\d{1,2})\s*([ap])\.?m\.?\s*", re.I)
MIN_EXAMPLES = 2  # one example shows a format; two that agree show what the field holds ("HCl" alone is no rule)
# marks of a cut a value can carry; not `cut_mid_word`, whose word list reads "Biscuit" as the start of "biscuits"
CUT_KINDS = frozenset({"unclosed_bracket", "unclosed_quote", "open_ending", "dangling_list_item", "unclosed_tag",
                       "open_code_fence", "cut_mid_sentence"})


def letter_share(text: str) -> float:
    visible = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in visible) / len(visible) if visible else 0.0


def reads_as_words(text: str) -> bool:
    return letter_share(text) >= WORDS_SHARE


def clock_time(text: str) -> bool:
    """A real time of day: `18:30`, `7.30 pm`, `6 pm` (hours under 24, or 1-12 with am/pm; minutes under 60)."""
    m = _CLOCK.fullmatch(text)
    if m is None:
        return False
    if m.group(4) is not None:
        return 1 <= int(m.group(4)) <= 12
    hour, minute = int(m.group(1)), int(m.group(2))
    return minute < 60 and (1 <= hour <= 12 if m.group(3) else hour < 24)


def _free(node: Mapping[str, Any]) -> bool:
    t = node.get("type")
    return (t == "string" or (isinstance(t, list) and "string" in t)) and not any(
        k in node for k in ("enum", "const", "pattern", "format"))


class ValueFit:
    """What each free string field's values look like, from the schema and the examples (module docstring)."""

    def __init__(self, schema: Mapping[str, Any], examples: Iterable[Any]) -> None:
        self.schema = schema
        self.shown = {p: [v for v in vs if isinstance(v, str) and v.strip()]
                      for p, vs in example_values_by_path(schema, list(examples)).items()}

    def kinds(self, pointer: str) -> list[str]:
        """What is asked of a field's values beyond `cut` and `debris` (for the manifest): words, a time."""
        shown = self.shown.get(pointer, [])
        out = []
        if len(shown) >= MIN_EXAMPLES and all(reads_as_words(v) for v in shown):
            out.append("words")
        if len(shown) >= MIN_EXAMPLES and all(clock_time(v) for v in shown):
            out.append("time")
        return out

    def lines(self) -> list[str]:
        """One line per field with a narrowing of its own, for the manifest."""
        out = []

        def visit(node: Any, pointer: str) -> None:
            if not isinstance(node, Mapping):
                return
            if _free(node):
                for kind in self.kinds(pointer):
                    n = len(self.shown[pointer])
                    out.append(f"{field_name(pointer)}: {'words' if kind == 'words' else 'a clock time'} "
                               f"(its {n} example{'s' if n != 1 else ''})")
            for k, sub in (node.get("properties") or {}).items() if isinstance(node.get("properties"), Mapping) else []:
                visit(sub, f"{pointer}/properties/{str(k).replace('~', '~0').replace('/', '~1')}")
            if isinstance(node.get("items"), Mapping):
                visit(node["items"], f"{pointer}/items")

        visit(self.schema, "")
        return out

    def problem(self, record: Any) -> tuple[str, str] | None:
        """(reason, detail) for the first free string of `record` that does not read as its field, else None."""
        found: list[tuple[str, str]] = []

        def walk(value: Any, node: Any, pointer: str) -> None:
            if found or not isinstance(node, Mapping):
                return
            if isinstance(value, dict) and isinstance(node.get("properties"), Mapping):
                for k, v in value.items():
                    walk(v, node["properties"].get(k), f"{pointer}/properties/{str(k).replace('~', '~0').replace('/', '~1')}")
            elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
                for v in value:
                    walk(v, node["items"], f"{pointer}/items")
            elif isinstance(value, str) and value.strip() and _free(node):
                bad = self.value_problem(value, pointer)
                if bad:
                    found.append(bad)

        walk(record, self.schema, "")
        return found[0] if found else None

    def value_problem(self, value: str, pointer: str) -> tuple[str, str] | None:
        shown = self.shown.get(pointer, [])
        name = field_name(pointer)
        like = ", ".join(repr(v[:30]) for v in shown[:2])
        cut = cut_problem(value)
        if cut and cut[0] == "cut_mid_sentence" and not value.rstrip()[-1:].islower():
            cut = None  # "Room A", "Unit B": a capital letter names something, it is no article
        if cut and cut[0] in CUT_KINDS and not any(cut_problem(v) and cut_problem(v)[0] == cut[0]  # type: ignore[index]
                                                   for v in shown):
            return "value:cut", f"{name}={value[:60]!r}: {cut[1]}"
        debris = readable_problem(value, prose=False)
        if debris:
            return "value:debris", f"{name}={value[:60]!r}: {debris[1]}"
        kinds = self.kinds(pointer)
        if "words" in kinds and (letter_share(value) < MIN_LETTERS or not _WORD.search(value)):
            return "value:not_words", (f"{name}={value[:60]!r} is not words, as its examples are ({like}): "
                                       f"{letter_share(value):.0%} letters")
        if "time" in kinds and not clock_time(value):
            return "value:not_a_time", f"{name}={value[:60]!r} is not a time of day, as its examples are ({like})"
        return None
