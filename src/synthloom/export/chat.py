"""Instruction/response records in the shapes fine-tuning tools read.

- ``openai``: OpenAI fine-tuning JSONL, ``{"messages": [{"role", "content"}, ...]}``
  (also what TRL's SFTTrainer and most trainers accept as "conversational");
- ``sharegpt``: ``{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}``;
- ``alpaca``: ``{"instruction", "input", "output"}`` (plus ``"system"`` when given);
- ``chatml``: ``{"text": "<|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n...<|im_end|>\\n"}``.

The user turn is the instruction, followed by a blank line and the input when
there is one (the Alpaca convention). An optional system prompt goes first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..errors import UsageError

CHAT_FORMATS = ("openai", "sharegpt", "alpaca", "chatml")


@dataclass(frozen=True)
class Fields:
    """Which record fields hold the instruction, the optional input and the response."""

    instruction: str = "instruction"
    input: str = "input"
    output: str = "output"


_FALLBACKS = {
    "instruction": ("instruction", "prompt", "question", "query"),
    "input": ("input", "context"),
    "output": ("output", "response", "answer", "completion"),
}


def resolve_fields(row: dict[str, Any], fields: Fields | None = None) -> Fields:
    """Use the given names, else the first usual name the row has."""
    if fields is not None:
        return fields
    pick = {k: next((n for n in names if n in row), names[0]) for k, names in _FALLBACKS.items()}
    return Fields(**pick)


def parts(row: dict[str, Any], fields: Fields | None = None) -> tuple[str, str, str]:
    f = resolve_fields(row, fields)
    if f.instruction not in row or f.output not in row:
        raise UsageError(
            f"record has no '{f.instruction}' / '{f.output}' field (it has: {', '.join(sorted(row))}); "
            "chat formats need an instruction and a response: name the fields with --instruction-field/--output-field"
        )
    inp = row.get(f.input) or ""
    return str(row[f.instruction]), str(inp), str(row[f.output])


def user_text(instruction: str, inp: str) -> str:
    return f"{instruction}\n\n{inp}" if inp.strip() else instruction


def to_openai(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    inst, inp, out = parts(row, fields)
    msgs = [{"role": "system", "content": system}] if system else []
    msgs += [{"role": "user", "content": user_text(inst, inp)}, {"role": "assistant", "content": out}]
    return {"messages": msgs}


def to_sharegpt(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    inst, inp, out = parts(row, fields)
    conv = [{"from": "system", "value": system}] if system else []
    conv += [{"from": "human", "value": user_text(inst, inp)}, {"from": "gpt", "value": out}]
    return {"conversations": conv}


def to_alpaca(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    inst, inp, out = parts(row, fields)
    rec = {"instruction": inst, "input": inp, "output": out}
    if system:
        rec["system"] = system
    return rec


def to_chatml(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    inst, inp, out = parts(row, fields)
    turns = [("system", system)] if system else []
    turns += [("user", user_text(inst, inp)), ("assistant", out)]
    return {"text": "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns)}


CONVERTERS: dict[str, Callable[..., dict[str, Any]]] = {
    "openai": to_openai,
    "sharegpt": to_sharegpt,
    "alpaca": to_alpaca,
    "chatml": to_chatml,
}


def converter(fmt: str) -> Callable[..., dict[str, Any]]:
    try:
        return CONVERTERS[fmt]
    except KeyError:
        raise UsageError(f"unknown chat format '{fmt}': use one of {', '.join(CHAT_FORMATS)}") from None


def convert(rows: Iterable[dict[str, Any]], fmt: str, system: str | None = None,
            fields: Fields | None = None) -> Iterator[dict[str, Any]]:
    fn = converter(fmt)
    for row in rows:
        yield fn(row, system=system, fields=fields)
