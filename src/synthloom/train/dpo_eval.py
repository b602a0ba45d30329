"""Held-out preference accuracy of a DPO student: does it prefer `chosen` to `rejected`?

For each pair, the log-probability of each answer given the prompt (summed over its tokens, with the end of
sequence) under the student (adapter on) and the base (adapter off). The student's implicit reward is
beta * (log p_student - log p_base); its accuracy is the share of pairs where the reward of `chosen` is higher.
Next to it: the base model's own log-likelihood preference (the untrained baseline), and the student's.
One model is loaded; the base is the same weights with the adapter switched off.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import UsageError


def _logp(model: Any, tok: Any, prompt: str, answer: str, max_length: int) -> float:
    import torch

    p = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    a = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = (p + a)[:max_length]
    n_prompt = len(p)
    if len(ids) <= n_prompt:
        return float("nan")
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    logp = torch.log_softmax(logits, -1)
    target = torch.tensor(ids[1:])
    per = logp[torch.arange(len(target)), target]
    return float(per[n_prompt - 1:].sum())


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def dpo_eval(folder: str | Path, data: str | Path, *, baselines: bool = True, limit: int | None = None,
             **_ignored: Any) -> dict[str, Any]:
    from peft import PeftModel

    from .dpo import _require, pair_rows, prompt_text
    from .data import read_rows
    from .lora_base import load_base, resolve_base

    _require()
    folder, data = Path(folder), Path(data)
    meta = json.loads((folder / "student.json").read_text(encoding="utf-8"))
    pairs = pair_rows(read_rows(data), data)
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise UsageError(f"{data}: no pairs to evaluate")
    hf_dir = Path(meta["base"]["hf_dir"])
    if not (hf_dir / "config.json").is_file():
        hf_dir = resolve_base(meta["base"].get("gguf"))["hf_dir"]
    model, tok = load_base(hf_dir)
    model = PeftModel.from_pretrained(model, folder)
    model.eval()
    beta = float(meta["hyperparameters"]["beta"])
    max_length = int(meta["hyperparameters"].get("max_length", 384)) * 2
    t0 = time.perf_counter()
    rows = []
    for r in pairs:
        prompt = prompt_text(r["prompt"], meta.get("system"))
        pol = [_logp(model, tok, prompt, r[k], max_length) for k in ("chosen", "rejected")]
        with model.disable_adapter():
            ref = [_logp(model, tok, prompt, r[k], max_length) for k in ("chosen", "rejected")]
        rows.append({"policy": pol, "reference": ref,
                     "reward": [beta * (pol[0] - ref[0]), beta * (pol[1] - ref[1])]})
    secs = time.perf_counter() - t0
    implicit = [x["reward"][0] > x["reward"][1] for x in rows]
    margins = [x["reward"][0] - x["reward"][1] for x in rows]
    student_ll = [x["policy"][0] > x["policy"][1] for x in rows]
    base_ll = [x["reference"][0] > x["reference"][1] for x in rows]
    n = len(rows)
    report: dict[str, Any] = {
        "kind": "dpo", "metric": "preference", "n": n, "accuracy": _share(implicit),
        "mean_reward_margin": round(sum(margins) / n, 4), "seconds": round(secs, 2),
    }
    if baselines:
        report["comparison"] = {
            "base model (its log-likelihood prefers chosen)": {"n": n, "accuracy": _share(base_ll)},
            "DPO student (its log-likelihood prefers chosen)": {"n": n, "accuracy": _share(student_ll)},
            "DPO student (implicit reward prefers chosen)": {"n": n, "accuracy": _share(implicit)},
        }
    return report


def dpo_markdown(report: dict[str, Any]) -> str:
    src = report["data"]
    honest = ("synthetic held-out pairs: made like the training pairs" if src["kind"] == "synthetic"
              else "pairs of your own: the honest test")
    lines = [f"# Evaluation of `{report['model']}`", "", f"- data: `{src['path']}` ({honest})",
             f"- n = {report['n']} pairs; preference accuracy (the student's implicit reward prefers chosen) "
             f"**{report['accuracy']:.3f}**; mean reward margin {report['mean_reward_margin']:.4f}", ""]
    comp = report.get("comparison") or {}
    if comp:
        lines += ["| model | preference accuracy |", "|---|---:|"]
        lines += [f"| {who} | {r['accuracy']:.3f} |" for who, r in comp.items()]
        lines += ["", "Log-likelihoods are summed over the answer's tokens, so they favour the shorter answer; the "
                  "implicit reward compares the student with the base on the same answer, which cancels that.", ""]
    return "\n".join(lines)
