"""Instruction/response records in the shapes fine-tuning tools read.

- ``openai``: OpenAI fine-tuning JSONL, ``{"messages": [{"role", "content"}, ...]}``
  (also what TRL's SFTTrainer and most trainers accept as "conversational");
- ``sharegpt``: ``{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}``;
- ``alpaca``: ``{"instruction", "input", "output"}`` (plus ``"system"`` when given);
- ``chatml``: ``{"text": "<|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n...<|im_end|>\\n"}``.

The user turn is the instruction, followed by a blank line and the input when
there is one (the Alpaca convention). An optional system prompt goes first.
A record that already holds a dialogue (a `messages` list of {role, content}, as
`technique: conversation` writes) keeps every turn; a given system prompt replaces its own.
Alpaca has no turns: a dialogue is refused there.
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


def dialogue(row: dict[str, Any], system: str | None = None) -> list[dict[str, str]] | None:
    """A multi-turn record's messages (system prompt first, `system` in place of its own), or None."""
    msgs = row.get("messages") if isinstance(row, dict) else None
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) and "role" in m for m in msgs):
        return None
    turns = [{"role": str(m["role"]), "content": str(m.get("content", ""))} for m in msgs]
    if system:
        turns = [{"role": "system", "content": system}] + [m for m in turns if m["role"] != "system"]
    return turns


_SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt"}


def to_openai(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    turns = dialogue(row, system)
    if turns is not None:
        return {"messages": turns}
    inst, inp, out = parts(row, fields)
    msgs = [{"role": "system", "content": system}] if system else []
    msgs += [{"role": "user", "content": user_text(inst, inp)}, {"role": "assistant", "content": out}]
    return {"messages": msgs}


def to_sharegpt(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    turns = dialogue(row, system)
    if turns is not None:
        return {"conversations": [{"from": _SHAREGPT_ROLE.get(m["role"], m["role"]), "value": m["content"]}
                                  for m in turns]}
    inst, inp, out = parts(row, fields)
    conv = [{"from": "system", "value": system}] if system else []
    conv += [{"from": "human", "value": user_text(inst, inp)}, {"from": "gpt", "value": out}]
    return {"conversations": conv}


def to_alpaca(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    if dialogue(row) is not None:
        raise UsageError("--format alpaca holds one instruction and one response, and these records are "
                         "multi-turn dialogues: use --format openai, sharegpt, chatml or hf")
    inst, inp, out = parts(row, fields)
    rec = {"instruction": inst, "input": inp, "output": out}
    if system:
        rec["system"] = system
    return rec


def to_chatml(row: dict[str, Any], system: str | None = None, fields: Fields | None = None) -> dict[str, Any]:
    msgs = dialogue(row, system)
    if msgs is not None:
        turns = [(m["role"], m["content"]) for m in msgs]
    else:
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
    from .tool_chat import CONVERTERS as TOOL_CONVERTERS, is_tool_record

    fn = converter(fmt)
    for row in rows:
        # a function-calling record (`technique: tools`) keeps its calls, results and tools
        yield TOOL_CONVERTERS[fmt](row, system=system) if is_tool_record(row) else fn(row, system=system, fields=fields)
