"""The DPO student: a LoRA adapter trained on preference pairs with TRL's DPOTrainer, on a CPU by default.

The base model is the LoRA student's (lora_base.py: the bundled Gemma 3 270M converted once from its GGUF and
cached, or any GGUF / Hugging Face folder); prompts use the same completion layout (`Input: ...` / `Output:`),
so the adapter answers in synthloom as it was trained, and `load_student` loads it like a LoRA student.

A student folder:

    adapter_config.json, adapter_model.safetensors   the adapter, PEFT format
    student.json      kind "dpo", base model, prompt format, hyperparameters, the loss history, split sizes
    loss_curve.png    DPO loss per step (train) and at each evaluation (validation)
    validation.jsonl, test.jsonl                     the held-out pairs (prompt, chosen, rejected)
    student.gguf      base + adapter merged (GGUF bases, --gguf)
    README.md         the card

`synthloom evaluate FOLDER --data test.jsonl` scores held-out preference accuracy (dpo_eval.py).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import MissingDependencyError, UsageError
from .lora import PROMPT_FORMAT, StepInfo, prompt_of

KIND = "dpo"


@dataclass
class DpoSettings:
    """Defaults sized for 2 CPU cores and a 270M model."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    lr: float = 5e-5
    beta: float = 0.1
    max_steps: int = 100
    epochs: float = 2.0
    batch_size: int = 4       # pairs per optimizer step, by gradient accumulation (micro-batch 1)
    max_length: int = 384     # tokens of prompt + answer
    eval_every: int = 0       # 0: about five evaluations over the run
    seed: int = 0
    threads: int = 0          # 0: half the cores (at least 1)

    def check(self) -> None:
        for name in ("rank", "alpha", "max_steps", "batch_size", "max_length"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be > 0 (got {getattr(self, name)})")
        if not 0 < self.lr < 1:
            raise UsageError(f"--lr must be between 0 and 1 (got {self.lr})")
        if self.beta <= 0:
            raise UsageError(f"--beta must be > 0 (got {self.beta})")


def _require() -> None:
    try:
        import datasets  # noqa: F401
        import peft  # noqa: F401
        import torch  # noqa: F401
        import trl  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "trl", "train", "DPO training") from exc


def _text(value: Any) -> str | None:
    """A field as text: a string, or the content of chat messages (TRL's conversational format)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n\n".join(str(m["content"]) for m in value if m.get("role") != "system")
    return None


def pair_rows(rows: Sequence[Any], where: Any) -> list[dict[str, str]]:
    """{prompt, chosen, rejected} text pairs from preference records (plain or conversational)."""
    out = []
    for i, r in enumerate(rows, 1):
        vals = {k: _text(r.get(k)) if isinstance(r, dict) else None for k in ("prompt", "chosen", "rejected")}
        if any(not v or not v.strip() for v in vals.values()):
            have = ", ".join(sorted(r)) if isinstance(r, dict) else type(r).__name__
            raise UsageError(f"{where}: record {i} is not a preference pair (it has: {have}); the DPO student needs "
                             "prompt, chosen and rejected: generate with `technique: preference`, or export with "
                             "`synthloom export RUN --format dpo`")
        out.append({k: v.strip() for k, v in vals.items()})  # type: ignore[union-attr]
    return out


def prompt_text(prompt: str, system: str | None = None) -> str:
    """The prompt in synthloom's completion layout (the one the llamacpp backend writes for a base model)."""
    turns = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    return prompt_of(turns)


def load_pairs(data: str | Path, split: str, seed: int) -> tuple[dict[str, list[dict[str, str]]], Path]:
    """{'train', 'validation', 'test'} pairs from an export folder (train.jsonl ...), a run or a JSONL file;
    dealt by prompt, so no prompt is in two splits."""
    from ..export.splits import parse_ratios, split_rows
    from ..runs import has_store
    from .data import load_data, read_rows

    p = Path(data)
    if p.is_dir() and (p / "train.jsonl").is_file() and not has_store(p):
        return {n: pair_rows(read_rows(p / f"{n}.jsonl"), p / f"{n}.jsonl") if (p / f"{n}.jsonl").is_file() else []
                for n in ("train", "validation", "test")}, p
    rows, _manifest, where = load_data(p)
    if not rows:
        raise UsageError(f"{where}: no records to train on")
    pairs = pair_rows(rows, where)
    prompts = [{"prompt": q} for q in dict.fromkeys(r["prompt"] for r in pairs)]
    home = {r["prompt"]: n for n, part in split_rows(prompts, parse_ratios(split), seed=seed, near_duplicate=1.0).items()
            for r in part}
    parts: dict[str, list[dict[str, str]]] = {"train": [], "validation": [], "test": []}
    for r in pairs:
        parts.setdefault(home[r["prompt"]], []).append(r)
    return parts, where


def loss_curve(history: list[dict[str, Any]], path: Path) -> Path | None:
    """The DPO loss per step and at each evaluation, with ln 2 (what a policy that prefers nothing scores)."""
    from .lora_card import loss_curve as draw

    return draw(history, path, train_label="train", ylabel="DPO loss", title="DPO loss",
                baseline=(math.log(2), "ln 2 (no preference learnt)"))


def _history(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for h in log:
        step = int(h.get("step", 0))
        row = out.setdefault(step, {"step": step})
        if "loss" in h:
            row["loss"] = float(h["loss"])
            for k in ("rewards/accuracies", "rewards/margins"):
                if k in h:
                    row[k.split("/")[1]] = float(h[k])
        if "eval_loss" in h:
            row["val_loss"] = float(h["eval_loss"])
            if "eval_rewards/accuracies" in h:
                row["val_accuracy"] = float(h["eval_rewards/accuracies"])
    return [out[k] for k in sorted(out) if len(out[k]) > 1]


def dpo_card(meta: dict[str, Any]) -> str:
    hp, base = meta["hyperparameters"], meta["base"]
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    lines = ["---", "library_name: peft", f"base_model: {base['name']}", "tags: [lora, dpo, trl, synthloom]", "---", "",
             "# DPO student", "",
             f"A LoRA adapter trained by synthloom with TRL's DPOTrainer on the preference pairs in `{meta['data']}` "
             "(splits: " + ", ".join(f"{k} {v}" for k, v in meta["splits"].items()) + ").", "",
             f"- base model: `{base['name']}`, which is also the reference model (the adapter switched off)",
             f"- prompt format: {meta['prompt_format']} (`Input: ...`, `Output:`)"
             + (f"; system prompt: {meta['system']!r}" if meta.get("system") else ""),
             f"- beta {hp['beta']}, rank {hp['rank']}, alpha {hp['alpha']}, lr {hp['lr']}, batch {hp['batch_size']}, "
             f"max length {hp['max_length']} tokens; {meta['steps']} steps",
             f"- DPO loss: first step {fmt(meta['first_loss'])}, last step {fmt(meta['last_loss'])} (ln 2 = 0.6931 "
             f"is no preference); validation {fmt(meta.get('last_val_loss'))}",
             f"- {meta['seconds_per_step']} s/step, {meta['train_seconds']} s training on {meta['device']}", "",
             "![loss](loss_curve.png)", "",
             "Score it: `synthloom evaluate THIS_FOLDER --data test.jsonl` (held-out preference accuracy of the "
             "student's implicit reward, next to the base model's).", "",
             "Hyperparameters:", "", "```json", json.dumps(hp, indent=2), "```", ""]
    return "\n".join(lines)


def train_dpo(data: str | Path, out: str | Path, *, base: str | None = None, split: str = "0.8,0.1,0.1",
              system: str | None = None, gguf: bool = False, on_step: Callable[[StepInfo], None] | None = None,
              settings: DpoSettings | None = None, **overrides: Any):
    """Train a LoRA adapter with DPO on preference pairs; write the student folder; returns a TrainSummary."""
    _require()
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from .lora_base import apply_settings, load_base, resolve_base, torch_threads
    from .students import TrainSummary

    s = apply_settings(settings or DpoSettings(), overrides, "DPO")
    parts, where = load_pairs(data, split, s.seed)
    if not parts["train"]:
        raise UsageError(f"{where}: the train split has no pairs ({sum(map(len, parts.values()))} pairs, --split "
                         f"{split}); give more pairs or a larger train share")
    info = resolve_base(base)
    torch.set_num_threads(torch_threads(s.threads))
    torch.manual_seed(s.seed)
    t_load = time.perf_counter()
    model, tok = load_base(info["hf_dir"])
    load_s = time.perf_counter() - t_load

    def dataset(rows: list[dict[str, str]]):
        return datasets.Dataset.from_list([{"prompt": prompt_text(r["prompt"], system), "chosen": r["chosen"],
                                            "rejected": r["rejected"]} for r in rows])

    total = max(1, min(s.max_steps, math.ceil(math.ceil(len(parts["train"]) / s.batch_size) * s.epochs)))
    val = parts["validation"]
    every = s.eval_every or max(1, total // 5)
    cuda = torch.cuda.is_available() and os.environ.get("SYNTHLOOM_DPO_DEVICE", "cpu") != "cpu"
    sample = parts["train"][:64]  # tokens per pair (prompt twice, both answers), for the progress line
    per_pair = sum(len(tok(prompt_text(r["prompt"], system) + r[k])["input_ids"]) for r in sample
                   for k in ("chosen", "rejected")) / max(1, len(sample))
    t0 = time.perf_counter()

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if on_step and logs and ("loss" in logs or "eval_loss" in logs):
                secs = max(1e-9, time.perf_counter() - t0)
                on_step(StepInfo(state.global_step, total, float(logs.get("loss", float("nan"))),
                                 per_pair * s.batch_size * state.global_step / secs, logs.get("eval_loss")))

    with tempfile.TemporaryDirectory(prefix="synthloom-dpo-") as work:
        cfg = DPOConfig(output_dir=work, max_steps=total, per_device_train_batch_size=1,
                        gradient_accumulation_steps=s.batch_size, per_device_eval_batch_size=1,
                        learning_rate=s.lr, beta=s.beta, max_length=s.max_length, logging_steps=1,
                        eval_strategy="steps" if val else "no", eval_steps=every if val else None,
                        save_strategy="no", report_to="none", use_cpu=not cuda, seed=s.seed,
                        gradient_checkpointing=False, bf16=False, fp16=False, disable_tqdm=True,
                        dataloader_num_workers=0, warmup_steps=max(1, int(total * 0.05)))
        lora = LoraConfig(r=s.rank, lora_alpha=s.alpha, lora_dropout=s.dropout, task_type="CAUSAL_LM", bias="none",
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
        trainer = DPOTrainer(model=model, args=cfg, train_dataset=dataset(parts["train"]),
                             eval_dataset=dataset(val) if val else None, processing_class=tok, peft_config=lora,
                             callbacks=[Progress()])
        trainer.train()
    train_s = time.perf_counter() - t0
    history = _history(trainer.state.log_history)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(out)
    from ..runs.writers import write_jsonl

    files = {"adapter": "adapter_model.safetensors", "config": "adapter_config.json"}
    for n in ("validation", "test"):
        if parts[n]:
            write_jsonl(parts[n], out / f"{n}.jsonl")
            files[n] = f"{n}.jsonl"
    losses = [h["loss"] for h in history if "loss" in h]
    vals = [h["val_loss"] for h in history if "val_loss" in h]
    meta = {
        "kind": KIND, "trainer": "trl.DPOTrainer", "prompt_format": PROMPT_FORMAT, "system": system,
        "base": {"name": info["name"], "gguf": str(info["gguf"]) if info["gguf"] else None,
                 "hf_dir": str(info["hf_dir"]), "sha256": info.get("sha256")},
        "data": str(data), "splits": {n: len(v) for n, v in parts.items()},
        "hyperparameters": dict(s.__dict__), "steps": trainer.state.global_step, "planned_steps": total,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "last_val_loss": vals[-1] if vals else None, "train_seconds": round(train_s, 2),
        "load_seconds": round(load_s, 2), "seconds_per_step": round(train_s / max(1, trainer.state.global_step), 3),
        "device": "cuda" if cuda else "cpu", "history": history,
    }
    if gguf and info["gguf"]:
        from .lora_gguf import merged_gguf

        merged_gguf(trainer.model, info["gguf"], out / "student.gguf")
        meta["gguf"] = "student.gguf"
        files["gguf"] = "student.gguf"
    png = loss_curve(history, out / "loss_curve.png")
    if png:
        files["loss_curve"] = png.name
    (out / "student.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "README.md").write_text(dpo_card(meta), encoding="utf-8")
    files.update(student="student.json", card="README.md")
    return TrainSummary(out, KIND, {n: len(v) for n, v in parts.items()}, {}, files)
