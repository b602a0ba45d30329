"""Scoring a LoRA student: base model, tuned model and (optionally) the teacher, side by side.

With a merged `student.gguf` (GGUF bases) every model runs through synthloom's own llamacpp backend,
so tokens/s and prompt tokens compare like with like; otherwise base and tuned run in transformers.
The teacher is the base GGUF prompted as a teacher is: few-shot examples from the train data and,
when the answers are JSON objects, decoding constrained to their shape.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import UsageError
from .data import read_rows
from .metrics import choose_metric, comparison_row, score

MAX_NEW_TOKENS = 256


def _answer_schema(golds: Sequence[Any]) -> dict[str, Any] | None:
    """An object schema with the gold answers' keys and value types (the teacher's constraint)."""
    objs = []
    for g in golds:
        try:
            v = json.loads(g) if isinstance(g, str) else g
        except ValueError:
            return None
        if not isinstance(v, dict):
            return None
        objs.append(v)
    if not objs:
        return None
    kinds = {"str": "string", "int": "number", "float": "number", "bool": "boolean"}
    props: dict[str, Any] = {}
    for o in objs:
        for k, v in o.items():
            t = kinds.get(type(v).__name__)
            if t and k not in props:
                props[k] = {"type": t}
    return {"type": "object", "properties": props, "required": sorted(props), "additionalProperties": False}


def _run_llamacpp(path: str | None, prompts: Sequence[Sequence[dict[str, str]]], schema: Any = None,
                  ) -> tuple[list[str], dict[str, Any]]:
    from ..config.models import LlamaCppModel
    from ..llm.llamacpp import LlamaCppLLM
    from ..llm.types import GenerationRequest

    llm = LlamaCppLLM(LlamaCppModel(path=path, n_ctx=4096, constrained="llguidance" if schema else "none"))
    texts, p_tok, c_tok, secs = [], 0, 0, 0.0
    for msgs in prompts:
        req = GenerationRequest(messages=tuple(msgs), json_schema=schema, max_tokens=MAX_NEW_TOKENS,
                                temperature=0.0, seed=0, purpose="evaluate")
        t0 = time.perf_counter()
        res = llm.generate_sync([req])[0]
        secs += time.perf_counter() - t0
        texts.append(res.text.strip() if res.ok else "")
        p_tok += res.prompt_tokens
        c_tok += res.completion_tokens
    llm._unload()
    n = max(1, len(prompts))
    return texts, {"prompt_tokens_per_example": p_tok / n, "completion_tokens_per_example": c_tok / n,
                   "tokens_per_s": c_tok / secs if secs else 0.0, "seconds": round(secs, 2)}


def _run_transformers(folder: Path, adapter: bool, prompts: Sequence[Sequence[dict[str, str]]],
                      ) -> tuple[list[str], dict[str, Any]]:
    from .lora import LoraStudent

    student = LoraStudent.load(folder, adapter=adapter)
    texts, p_tok, c_tok, secs = [], 0, 0, 0.0
    for msgs in prompts:
        t0 = time.perf_counter()
        text, p, c = student.generate(msgs, MAX_NEW_TOKENS)
        secs += time.perf_counter() - t0
        texts.append(text)
        p_tok, c_tok = p_tok + p, c_tok + c
    n = max(1, len(prompts))
    return texts, {"prompt_tokens_per_example": p_tok / n, "completion_tokens_per_example": c_tok / n,
                   "tokens_per_s": c_tok / secs if secs else 0.0, "seconds": round(secs, 2)}


def _few_shot(folder: Path, k: int = 2) -> list[dict[str, str]]:
    """k train-like examples for the teacher's prompt: from the student's validation split."""
    p = folder / "validation.jsonl"
    if not p.is_file():
        return []
    shots: list[dict[str, str]] = []
    for r in read_rows(p)[:k]:
        msgs = r["messages"]
        shots += [m for m in msgs if m["role"] != "system"]
    return shots


def lora_eval(folder: Path, data: Path, *, metric: str | None = None, baselines: bool = True,
              limit: int | None = None, teacher: bool = False) -> dict[str, Any]:
    from .lora import chat_rows

    meta = json.loads((folder / "student.json").read_text(encoding="utf-8"))
    rows = read_rows(data)
    if limit:
        rows = rows[:limit]
    if not rows:
        raise UsageError(f"{data}: no records to evaluate")
    chats = chat_rows(rows, data, meta.get("system"))
    prompts = [m[:-1] for m in chats]
    gold = [m[-1]["content"] for m in chats]
    metric = metric or choose_metric(gold)
    gguf = folder / "student.gguf"
    base_gguf = (meta.get("base") or {}).get("gguf")
    use_gguf = gguf.is_file() and base_gguf and Path(base_gguf).is_file()

    def run(which: str) -> tuple[list[str], dict[str, Any]]:
        if use_gguf:
            return _run_llamacpp(str(gguf) if which == "tuned" else base_gguf, prompts)
        return _run_transformers(folder, which == "tuned", prompts)

    pred, cost = run("tuned")
    main = {**score(metric, gold, pred), **cost}
    report: dict[str, Any] = {**main, "kind": "lora", "runtime": "llama.cpp (merged GGUF)" if use_gguf else "transformers",
                              "examples": [{"gold": g, "pred": p} for g, p in list(zip(gold, pred))[:5]]}
    if baselines:
        bpred, bcost = run("base")
        untrained = f"base model, untrained ({meta['base']['name']})"
        comp = {untrained: comparison_row({**score(metric, gold, bpred), **bcost})}
        comp["LoRA student"] = comparison_row(main)
        if teacher and base_gguf:
            schema = _answer_schema(gold) if metric == "fields" else None
            shots = _few_shot(folder)
            tprompts = [[*(m for m in p if m["role"] == "system"), *shots, *(m for m in p if m["role"] != "system")]
                        for p in prompts]
            tpred, tcost = _run_llamacpp(base_gguf, tprompts, schema)
            comp[f"teacher ({meta['base']['name']}, {len(shots) // 2}-shot"
                 + (", constrained JSON)" if schema else ")")] = comparison_row({**score(metric, gold, tpred), **tcost})
        report["comparison"] = comp
    return report
