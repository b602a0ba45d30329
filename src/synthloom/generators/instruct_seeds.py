"""Seed tasks for Self-Instruct and Evol-Instruct: a JSONL file, one task per line.

Accepted shapes (one JSON object per line):

    {"instruction": "...", "input": "...", "output": "...", "is_classification": false}
    {"instruction": "...", "instances": [{"input": "...", "output": "..."}], "is_classification": true}

The second is the format of the Self-Instruct paper's `seed_tasks.jsonl`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputFileError

EXAMPLE_LINE = '{"instruction": "Give three tips for staying healthy.", "input": "", "output": "1. Eat well..."}'


@dataclass(frozen=True)
class SeedTask:
    id: str
    instruction: str
    instances: tuple[tuple[str, str], ...] = ()  # (input, output)
    is_classification: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def input(self) -> str:
        return self.instances[0][0] if self.instances else ""

    @property
    def output(self) -> str:
        return self.instances[0][1] if self.instances else ""


def _fail(path: Path, line: int | None, problem: str, fix: str) -> InputFileError:
    where = f"{path}:{line}" if line else str(path)
    return InputFileError(f"{where}: {problem}; {fix}")


def _text(path: Path, n: int, obj: dict, key: str, required: bool) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise _fail(path, n, f"missing field '{key}'",
                        f"every seed task needs '{key}', e.g. {EXAMPLE_LINE}")
        return ""
    if not isinstance(value, str):
        raise _fail(path, n, f"field '{key}' must be a string (got {type(value).__name__})", "quote the value")
    if required and not value.strip():
        raise _fail(path, n, f"field '{key}' is empty", f"write the {key} text, e.g. {EXAMPLE_LINE}")
    return value


def load_seed_tasks(path: str | Path, base_dir: str | Path = ".", need_output: bool = False,
                    min_tasks: int = 1) -> list[SeedTask]:
    """Read and check a seed file. Errors name the file, the line, the field and the fix."""
    p = Path(path)
    if not p.is_absolute():
        p = Path(base_dir) / p
    if not p.is_file():
        raise _fail(p, None, "seed file not found", "check the path (relative paths are resolved from the recipe's folder)")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise _fail(p, None, f"not UTF-8 text ({exc.reason})", "save the seed file as UTF-8 JSONL") from None
    tasks: list[SeedTask] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise _fail(p, n, f"not valid JSON ({exc.msg} at column {exc.colno})",
                        f"write one JSON object per line, e.g. {EXAMPLE_LINE}") from None
        if not isinstance(obj, dict):
            raise _fail(p, n, f"expected a JSON object, got {type(obj).__name__}",
                        f"write one JSON object per line, e.g. {EXAMPLE_LINE}")
        instruction = _text(p, n, obj, "instruction", True).strip()
        instances: list[tuple[str, str]] = []
        if "instances" in obj:
            raw = obj["instances"]
            if not isinstance(raw, list) or not raw or not all(isinstance(i, dict) for i in raw):
                raise _fail(p, n, "field 'instances' must be a non-empty list of {\"input\", \"output\"} objects",
                            "or give 'input' and 'output' directly")
            for i in raw:
                instances.append((_text(p, n, i, "input", False), _text(p, n, i, "output", need_output)))
        elif "output" in obj or need_output:
            instances.append((_text(p, n, obj, "input", False), _text(p, n, obj, "output", need_output)))
        elif obj.get("input"):
            instances.append((_text(p, n, obj, "input", False), ""))
        flag = obj.get("is_classification", False)
        if not isinstance(flag, bool):
            raise _fail(p, n, f"field 'is_classification' must be true or false (got {flag!r})", "use a JSON boolean")
        known = {"instruction", "input", "output", "instances", "is_classification", "id"}
        tasks.append(SeedTask(
            id=str(obj.get("id") or f"seed-{len(tasks)}"), instruction=instruction, instances=tuple(instances),
            is_classification=flag, extra={k: v for k, v in obj.items() if k not in known},
        ))
    if len(tasks) < min_tasks:
        raise _fail(p, None, f"the seed file has {len(tasks)} task(s), at least {min_tasks} needed",
                    f"add seed tasks, one JSON object per line, e.g. {EXAMPLE_LINE}")
    return tasks
