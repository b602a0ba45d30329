"""The LoRA student: an adapter on a small causal LM, trained on chat-format data with torch on a CPU.

Prompts use synthloom's own completion layout (`llm.render.render_completion`: the system text, then
`Input: ...` / `Output:`), the one the llamacpp backend writes for a base model, so the merged GGUF
this module writes answers in synthloom exactly as it was trained. The loss is on the answer tokens
(and the end-of-sequence token) only; logits are computed for those positions alone, which spares a
262k-vocabulary projection over the prompt.

A student folder:

    adapter_config.json, adapter_model.safetensors   the adapter, PEFT format
    student.json      kind, base model, prompt format, hyperparameters, losses, split sizes
    loss_curve.png    train and validation loss per step
    validation.jsonl, test.jsonl                     the held-out chat rows
    student.gguf      base + adapter merged (GGUF bases only): `model: {backend: llamacpp, path: ...}`
    README.md         the card
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import MissingDependencyError, UsageError
from ..llm.render import render_completion
from .lora_base import apply_settings, cache_dir, load_base, resolve_base, torch_threads  # noqa: F401 (the base model: lora_base.py)

KIND = "lora"
PROMPT_FORMAT = "synthloom-completion"
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass
class LoraSettings:
    """Defaults sized for 2 CPU cores and a 270M model: minutes, not hours."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    lr: float = 2e-4
    max_steps: int = 200
    epochs: float = 3.0
    batch_size: int = 4          # examples per optimizer step, by gradient accumulation (micro-batch 1: no padding)
    max_length: int = 384        # tokens per example; a longer one is cut at the end (answer tokens lost first)
    warmup: float = 0.05
    eval_every: int = 0          # 0: about ten evaluations over the run
    max_eval: int = 32           # validation examples per evaluation
    patience: int = 3            # evaluations without a better validation loss before stopping
    seed: int = 0
    threads: int = 0             # 0: half the cores (at least 1); torch threads spin, and more than are free is slower

    def check(self) -> None:
        for name in ("rank", "alpha", "max_steps", "batch_size", "max_length"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be > 0 (got {getattr(self, name)})")
        if not 0 < self.lr < 1:
            raise UsageError(f"--lr must be between 0 and 1 (got {self.lr})")


@dataclass
class StepInfo:
    step: int
    total: int
    loss: float
    tokens_per_s: float
    val_loss: float | None = None
    phase: str = "train"


def _require():
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "torch", "train", "LoRA training") from exc


def chat_rows(rows: Sequence[dict[str, Any]], where: Any, system: str | None = None) -> list[list[dict[str, str]]]:
    """Each row as chat messages ending with the assistant's answer; instruction/output rows are converted."""
    from ..export.chat import to_openai

    out = []
    for i, r in enumerate(rows, 1):
        if "messages" in r:
            msgs = r["messages"]
            if (not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) and "role" in m for m in msgs)
                    or msgs[-1].get("role") != "assistant"):
                raise UsageError(f"{where}: record {i}: 'messages' must be a list of {{role, content}} turns that "
                                 "ends with the assistant's answer")
            msgs = [{"role": m["role"], "content": str(m.get("content") or "")} for m in msgs]
        else:
            try:
                msgs = to_openai(r)["messages"]
            except UsageError:
                raise UsageError(
                    f"{where}: record {i} has neither 'messages' nor an instruction and a response (it has: "
                    f"{', '.join(sorted(r))}); a LoRA student learns chat turns: generate with `emit: messages`, "
                    "or export the run with `synthloom export RUN --format openai`") from None
        if system is not None:
            msgs = [{"role": "system", "content": system}] + [m for m in msgs if m["role"] != "system"]
        out.append(msgs)
    return out


def prompt_of(messages: Sequence[dict[str, str]]) -> str:
    """The prompt text for everything before the answer, in the layout the llamacpp backend writes."""
    turns = list(messages)
    if turns and turns[-1]["role"] == "assistant":
        turns = turns[:-1]
    return render_completion(turns)


def encode(tok: Any, messages: Sequence[dict[str, str]], max_length: int) -> tuple[list[int], list[int]] | None:
    """(input ids, labels): labels are -100 on the prompt; None when the answer would be cut away entirely."""
    prompt = [tok.bos_token_id] + tok(prompt_of(messages), add_special_tokens=False)["input_ids"]
    answer = tok(messages[-1]["content"].strip(), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = (prompt + answer)[:max_length]
    labels = ([-100] * len(prompt) + answer)[:max_length]
    if all(x == -100 for x in labels):
        return None
    return ids, labels


def load_splits(data: str | Path, split: str, seed: int, system: str | None) -> tuple[dict[str, list], Path]:
    """{'train', 'validation', 'test'} lists of chat messages from an export folder, a run or a JSONL file."""
    from ..export.splits import parse_ratios, split_rows
    from ..runs import has_store
    from .data import load_data, read_rows

    p = Path(data)
    if p.is_dir() and (p / "train.jsonl").is_file() and not has_store(p):
        parts = {n: chat_rows(read_rows(p / f"{n}.jsonl"), p / f"{n}.jsonl", system) if (p / f"{n}.jsonl").is_file()
                 else [] for n in ("train", "validation", "test")}
        return parts, p
    rows, _manifest, where = load_data(p)
    if not rows:
        raise UsageError(f"{where}: no records to train on")
    msgs = chat_rows(rows, where, system)
    ratios = parse_ratios(split)
    wrapped = [{"messages": m} for m in msgs]
    dealt = split_rows(wrapped, ratios, seed=seed,
                       text_of=lambda r: " ".join(m["content"] for m in r["messages"] if m["role"] == "user"))
    return {n: [r["messages"] for r in dealt.get(n, [])] for n in ("train", "validation", "test")}, where


# ---------------------------------------------------------------- training


def _answer_loss(model: Any, ids: Any, labels: Any) -> tuple[Any, int]:
    """Summed cross-entropy over the answer tokens, and their count (logits only where they are needed)."""
    import torch

    base = model.get_base_model()
    hidden = base.model(input_ids=ids).last_hidden_state[0, :-1]
    target = labels[0, 1:]
    keep = target != -100
    logits = base.lm_head(hidden[keep])
    cap = getattr(base.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    loss = torch.nn.functional.cross_entropy(logits.float(), target[keep], reduction="sum")
    return loss, int(keep.sum())


def _mean_loss(model: Any, examples: Sequence[tuple[list[int], list[int]]]) -> float:
    import torch

    total, n = 0.0, 0
    model.eval()
    with torch.no_grad():
        for ids, labels in examples:
            loss, k = _answer_loss(model, torch.tensor([ids]), torch.tensor([labels]))
            total, n = total + float(loss), n + k
    model.train()
    return total / max(n, 1)


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def train_lora(data: str | Path, out: str | Path, *, base: str | None = None, split: str = "0.8,0.1,0.1",
               system: str | None = None, gguf: bool = True, on_step: Callable[[StepInfo], None] | None = None,
               settings: LoraSettings | None = None, **overrides: Any):
    """Train a LoRA adapter on chat data; write the student folder; returns a TrainSummary."""
    _require()
    import torch
    from peft import LoraConfig, get_peft_model

    from .summary import TrainSummary

    s = apply_settings(settings or LoraSettings(), overrides, "LoRA", {"target_modules": tuple})
    parts, where = load_splits(data, split, s.seed, system)
    if not parts["train"]:
        raise UsageError(f"{where}: the train split has no rows ({sum(map(len, parts.values()))} records, --split "
                         f"{split}); give more records or a larger train share")
    info = resolve_base(base)
    torch.set_num_threads(torch_threads(s.threads))
    torch.manual_seed(s.seed)
    rng = random.Random(s.seed)
    t_load = time.perf_counter()
    model, tok = load_base(info["hf_dir"])
    load_s = time.perf_counter() - t_load
    enc = {n: [e for e in (encode(tok, m, s.max_length) for m in rows) if e] for n, rows in parts.items()}
    if not enc["train"]:
        raise UsageError(f"{where}: no train example has an answer within --max-length {s.max_length} tokens")
    missing = [t for t in s.target_modules if not any(name.endswith("." + t) for name, _ in model.named_modules())]
    if missing:
        raise UsageError(f"--target-modules: the base model has no module named {', '.join(missing)}")
    cfg = LoraConfig(r=s.rank, lora_alpha=s.alpha, lora_dropout=s.dropout, target_modules=list(s.target_modules),
                     task_type="CAUSAL_LM", bias="none")
    import warnings

    with warnings.catch_warnings():  # transformers' own deprecation notice, raised inside peft
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(model, cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(enc["train"]) / s.batch_size)
    total = max(1, min(s.max_steps, math.ceil(steps_per_epoch * s.epochs)))
    warm = max(1, int(total * s.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / warm) * max(0.0, (total - k) / max(1, total - warm)) if k >= warm
        else (k + 1) / warm)
    val = enc["validation"][: s.max_eval]
    every = s.eval_every or max(1, total // 10)
    history: list[dict[str, Any]] = []
    best = (math.inf, None, 0)
    order: list[int] = []
    tokens_seen, t0 = 0, time.perf_counter()
    stopped = "max_steps" if total == s.max_steps else "epochs"
    val0 = _mean_loss(model, val) if val else None
    if val0 is not None:
        history.append({"step": 0, "val_loss": val0})
    for step in range(1, total + 1):
        opt.zero_grad(set_to_none=True)
        batch = []
        for _ in range(s.batch_size):
            if not order:
                order = list(range(len(enc["train"])))
                rng.shuffle(order)
            batch.append(enc["train"][order.pop()])
        n_answer = sum(sum(1 for x in lab[1:] if x != -100) for _, lab in batch)
        step_loss = 0.0
        for ids, labels in batch:
            loss, _k = _answer_loss(model, torch.tensor([ids]), torch.tensor([labels]))
            (loss / n_answer).backward()
            step_loss += loss.item()
            tokens_seen += len(ids)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        rec: dict[str, Any] = {"step": step, "loss": step_loss / n_answer, "lr": sched.get_last_lr()[0]}
        if val and (step % every == 0 or step == total):
            rec["val_loss"] = _mean_loss(model, val)
            if rec["val_loss"] < best[0] - 1e-4:
                best = (rec["val_loss"], {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k},
                        step)
        history.append(rec)
        tps = tokens_seen / (time.perf_counter() - t0)
        if on_step:
            on_step(StepInfo(step, total, rec["loss"], tps, rec.get("val_loss")))
        if val and "val_loss" in rec and step - best[2] >= every * s.patience:
            stopped = f"early stop (no better validation loss for {s.patience} evaluations)"
            break
    train_s = time.perf_counter() - t0
    if best[1] is not None and best[2] != history[-1]["step"]:
        model.load_state_dict(best[1], strict=False)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    from ..runs.writers import write_jsonl

    files = {"adapter": "adapter_model.safetensors", "config": "adapter_config.json"}
    for n in ("validation", "test"):
        if parts[n]:
            write_jsonl([{"messages": m} for m in parts[n]], out / f"{n}.jsonl")
            files[n] = f"{n}.jsonl"
    from .lora_card import lora_card, loss_curve

    train_losses = [h["loss"] for h in history if "loss" in h]
    meta = {
        "kind": KIND, "prompt_format": PROMPT_FORMAT, "system": system,
        "base": {"name": info["name"], "gguf": str(info["gguf"]) if info["gguf"] else None,
                 "hf_dir": str(info["hf_dir"]), "sha256": info.get("sha256")},
        "data": str(data), "splits": {n: len(v) for n, v in parts.items()},
        "encoded": {n: len(v) for n, v in enc.items()},
        "hyperparameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.__dict__.items()},
        "steps": history[-1]["step"] if history else 0, "planned_steps": total, "stopped_by": stopped,
        "best_step": best[2] or None, "best_val_loss": None if best[1] is None else best[0], "val_loss_start": val0,
        "first_loss": train_losses[0] if train_losses else None,
        "last_loss": train_losses[-1] if train_losses else None,
        "train_seconds": round(train_s, 2), "load_seconds": round(load_s, 2),
        "tokens_per_s": round(tokens_seen / train_s, 1) if train_s else None,
        "seconds_per_step": round(train_s / max(1, len(train_losses)), 3),
        "peak_rss_mb": _peak_rss_mb(),
        "history": history,
    }
    if gguf and info["gguf"]:
        from .lora_gguf import merged_gguf

        merged_gguf(model, info["gguf"], out / "student.gguf")
        meta["gguf"] = "student.gguf"
        files["gguf"] = "student.gguf"
    png = loss_curve(history, out / "loss_curve.png")
    if png:
        files["loss_curve"] = png.name
    (out / "student.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "README.md").write_text(lora_card(meta), encoding="utf-8")
    files.update(student="student.json", card="README.md")
    return TrainSummary(out, KIND, {n: len(v) for n, v in parts.items()}, {}, files)


# ---------------------------------------------------------------- the trained student


@dataclass
class LoraStudent:
    """A base model with the adapter applied (transformers); `generate` answers chat messages greedily."""

    folder: Path
    meta: dict[str, Any]
    model: Any = None
    tok: Any = None
    kind: str = KIND
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path, adapter: bool = True) -> "LoraStudent":
        _require()
        import torch
        from peft import PeftModel

        torch.set_num_threads(torch_threads(None))
        folder = Path(folder)
        meta = json.loads((folder / "student.json").read_text(encoding="utf-8"))
        hf_dir = Path(meta["base"]["hf_dir"])
        if not (hf_dir / "config.json").is_file():
            hf_dir = resolve_base(meta["base"].get("gguf"))["hf_dir"]
        model, tok = load_base(hf_dir)
        if adapter:
            model = PeftModel.from_pretrained(model, folder)
        model.eval()
        return cls(folder, meta, model, tok)

    def generate(self, messages: Sequence[dict[str, str]], max_new_tokens: int = 256) -> tuple[str, int, int]:
        """(answer text, prompt tokens, new tokens): greedy, stops at the end-of-sequence token."""
        import torch

        msgs = list(messages)
        if self.meta.get("system") is not None:
            msgs = [{"role": "system", "content": self.meta["system"]}] + [m for m in msgs if m["role"] != "system"]
        prompt = [self.tok.bos_token_id] + self.tok(prompt_of(msgs), add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = self.model.generate(input_ids=torch.tensor([prompt]), max_new_tokens=max_new_tokens,
                                      do_sample=False, eos_token_id=self.tok.eos_token_id,
                                      pad_token_id=self.tok.pad_token_id)
        new = out[0, len(prompt):].tolist()
        return self.tok.decode(new, skip_special_tokens=True).strip(), len(prompt), len(new)
