"""The LoRA student's card (README.md) and loss curve (PNG)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def loss_curve(history: list[dict[str, Any]], path: Path, *, train_label: str = "train (answer tokens)",
               ylabel: str = "cross-entropy per token", title: str = "LoRA loss",
               baseline: tuple[float, str] | None = None) -> Path | None:
    """Train loss per step and validation loss at each evaluation (and a dotted `baseline` line: value,
    label); None when matplotlib is missing. The LoRA and the DPO students draw theirs with it."""
    from ..errors import MissingDependencyError
    from ..export.figures import figure as _figure, save as _save

    try:
        fig = _figure(6.0, 3.5)
    except MissingDependencyError:
        return None
    ax = fig.add_subplot()
    tr = [(h["step"], h["loss"]) for h in history if "loss" in h]
    va = [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
    if tr:
        ax.plot(*zip(*tr), label=train_label, color="#4c72b0")
    if va:
        ax.plot(*zip(*va), "o-", label="validation", color="#dd8452")
    if baseline is not None:
        ax.axhline(baseline[0], color="#999999", linestyle=":", label=baseline[1])
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def lora_card(meta: dict[str, Any]) -> str:
    hp = meta["hyperparameters"]
    base = meta["base"]
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    lines = [
        "---", "library_name: peft", f"base_model: {base['name']}", "tags: [lora, synthloom]", "---", "",
        "# LoRA student", "",
        f"A LoRA adapter trained by synthloom on `{meta['data']}` (splits: "
        + ", ".join(f"{k} {v}" for k, v in meta["splits"].items()) + ").", "",
        f"- base model: `{base['name']}`" + (f" (sha256 {base['sha256'][:16]}...)" if base.get("sha256") else ""),
        f"- prompt format: {meta['prompt_format']} (system text, `Input: ...`, `Output:`; the layout synthloom's "
        "llamacpp backend writes for a base model)" + (f"; system prompt: {meta['system']!r}" if meta.get("system") else ""),
        f"- rank {hp['rank']}, alpha {hp['alpha']}, dropout {hp['dropout']}, target modules "
        f"{', '.join(hp['target_modules'])}",
        f"- lr {hp['lr']}, batch {hp['batch_size']} (gradient accumulation), max length {hp['max_length']} tokens, "
        f"{meta['steps']} of {meta['planned_steps']} steps ({meta['stopped_by']})",
        f"- loss on answer tokens: first step {fmt(meta['first_loss'])}, last step {fmt(meta['last_loss'])}; "
        f"validation {fmt(meta.get('val_loss_start'))} before training, best {fmt(meta.get('best_val_loss'))}"
        + (f" at step {meta['best_step']}" if meta.get("best_step") else ""),
        f"- {meta['seconds_per_step']} s/step, {meta['tokens_per_s']} tokens/s, {meta['train_seconds']} s training, "
        f"peak memory {meta.get('peak_rss_mb')} MB",
        "", "![loss](loss_curve.png)", "",
        "Use it:", "", "```python", "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        f"model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained({base['hf_dir']!r}), 'THIS_FOLDER')",
        "```", "",
    ]
    if meta.get("gguf"):
        lines += ["`student.gguf` is the base with this adapter merged; synthloom runs it as",
                  "`model: {backend: llamacpp, path: student.gguf}`.", ""]
    lines += ["Score it: `synthloom evaluate THIS_FOLDER --data test.jsonl`.", "",
              "Hyperparameters:", "", "```json", json.dumps(hp, indent=2), "```", ""]
    return "\n".join(lines)
