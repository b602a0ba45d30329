"""Which fields of a record are the instruction (prompt) and which the response, for the signal gates.

A record of any shape works: the names are given, or the first usual one the
record has is taken (instruction/prompt/question/query, output/response/answer/
completion); an `input` (or `context`) field is joined to the instruction the
way chat exports join it (a blank line between).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import UsageError
from .text import record_text

INSTRUCTION_NAMES = ("instruction", "prompt", "question", "query")
INPUT_NAMES = ("input", "context")
RESPONSE_NAMES = ("output", "response", "answer", "completion")


@dataclass(frozen=True, slots=True)
class PairFields:
    instruction: str | None = None  # None: the first of INSTRUCTION_NAMES the record has
    response: str | None = None  # None: the first of RESPONSE_NAMES the record has
    input: str | None = None  # None: the first of INPUT_NAMES the record has ("" to never join one)

    def _pick(self, data: Mapping[str, Any], given: str | None, names: tuple[str, ...]) -> str | None:
        if not isinstance(data, Mapping):  # an array or string record: no named fields
            return None
        if given is not None:
            return given or None
        return next((n for n in names if n in data), None)

    def instruction_text(self, data: Mapping[str, Any], required: bool = True) -> str | None:
        name = self._pick(data, self.instruction, INSTRUCTION_NAMES)
        if name is None or not _has(data, name):
            if required:
                raise UsageError(_missing(data, "instruction", name, "--instruction-field / instruction_field"))
            return None
        text = record_text(data, [name])
        inp = self._pick(data, self.input, INPUT_NAMES)
        extra = record_text(data, [inp]) if inp and _has(data, inp) else ""
        return f"{text}\n\n{extra}" if extra.strip() else text

    def bare_instruction(self, data: Mapping[str, Any]) -> str | None:
        """The instruction alone (no input joined): what the form check reads."""
        name = self._pick(data, self.instruction, INSTRUCTION_NAMES)
        return record_text(data, [name]) if name and _has(data, name) else None

    def response_text(self, data: Mapping[str, Any], required: bool = True) -> str | None:
        name = self._pick(data, self.response, RESPONSE_NAMES)
        if name is None or not _has(data, name):
            if required:
                raise UsageError(_missing(data, "response", name, "--response-field / response_field"))
            return None
        return record_text(data, [name])

    def response_or_all(self, data: Any, fields: list[str] | None = None) -> str:
        """What a gate on responses reads: the `fields` named, else the response, else all string values
        (a record that is not an object: its JSON)."""
        if fields or not isinstance(data, Mapping):
            return record_text(data, fields)
        resp = self.response_text(data, required=False)
        return resp if resp is not None else record_text(data)


def _has(data: Mapping[str, Any], dotted: str) -> bool:
    value: Any = data
    for step in dotted.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return False
        value = value[step]
    return value is not None


def _missing(data: Mapping[str, Any], what: str, name: str | None, option: str) -> str:
    if not isinstance(data, Mapping):
        from ..records import kind_of

        return (f"record is a JSON {kind_of(data)} (the schema's root is not an object), so it has no {what} field; "
                "this gate needs object records: set generate.wrap: FIELD, or remove the gate")
    have = ", ".join(sorted(map(str, data))) or "no fields"
    if name is None:
        return f"record has no {what} field (it has: {have}); name it with {option}"
    return f"record has no '{name}' field for the {what} (it has: {have}); name it with {option}"
