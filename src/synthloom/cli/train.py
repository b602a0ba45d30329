"""CLI commands for teacher -> student: train, evaluate."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Optional

import typer

from .common import console, out
from .options import command


@contextlib.contextmanager
def lora_progress() -> Iterator:
    """A progress bar for LoRA steps with the loss and tokens/s; plain lines when not on a terminal."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    prog = Progress(TextColumn("[bold]step"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("loss {task.fields[loss]:.4f}  val {task.fields[val]}  {task.fields[tps]:.0f} tok/s",
                               style="dim"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                    disable=not console.is_terminal)
    task = prog.add_task("lora", total=None, loss=float("nan"), val="-", tps=0.0)
    last_val = ["-"]

    def update(info) -> None:
        if info.val_loss is not None:
            last_val[0] = f"{info.val_loss:.4f}"
        prog.update(task, total=info.total, completed=info.step, loss=info.loss, val=last_val[0],
                    tps=info.tokens_per_s)
        if not console.is_terminal and (info.step == 1 or info.step % 10 == 0 or info.step == info.total
                                        or info.val_loss is not None):
            console.print(f"step {info.step}/{info.total}  loss {info.loss:.4f}  val {last_val[0]}  "
                          f"{info.tokens_per_s:.0f} tok/s", highlight=False)

    with prog:
        yield update


@command
def train_cmd(
    data: Path = typer.Argument(..., help="Run folder, JSONL/CSV file, or (lora) a chat export folder/file."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for the trained student."),
    student: str = typer.Option("classifier", "--student", help="classifier | lora | dpo (a LoRA adapter trained with TRL's DPOTrainer on preference pairs)."),
    base: Optional[str] = typer.Option(None, "--base", help="lora: base model (GGUF file or HF folder; default: the bundled Gemma 3 270M)."),
    text_field: Optional[str] = typer.Option(None, "--text-field", help="classifier: field with the text (default: text, ...)."),
    label_field: Optional[str] = typer.Option(None, "--label-field", help="classifier: field with the label (default: label, intent, ...)."),
    split: Optional[str] = typer.Option(None, "--split", help="Held-out shares, e.g. 0.8,0,0.2 (classifier default) or 0.8,0.1,0.1 (lora)."),
    min_per_label: int = typer.Option(5, "--min-per-label", help="classifier: fewest examples a label may have."),
    labels: Optional[str] = typer.Option(None, "--labels", help="classifier: label set file whose name: description "
                                         "joins the training rows, one per label (default: the run's label set "
                                         "when found; none: leave them out)."),
    c: Optional[float] = typer.Option(None, "--c", help="classifier: inverse regularisation strength of the head "
                                      "(default: chosen by cross-validation on the training rows)."),
    max_steps: int = typer.Option(200, "--max-steps", help="lora: optimizer steps at most."),
    epochs: float = typer.Option(3.0, "--epochs", help="lora: passes over the train split at most."),
    rank: int = typer.Option(8, "--rank", help="lora: adapter rank."),
    alpha: int = typer.Option(16, "--alpha", help="lora: scaling alpha."),
    lr: Optional[float] = typer.Option(None, "--lr", help="lora/dpo: learning rate (default 2e-4 for lora, 5e-5 for dpo)."),
    max_length: int = typer.Option(384, "--max-length", help="lora: tokens per example at most (longer are cut)."),
    batch_size: int = typer.Option(4, "--batch-size", help="lora: examples per optimizer step (by gradient accumulation)."),
    system: Optional[str] = typer.Option(None, "--system", help="lora: system prompt to put first (replaces the data's)."),
    gguf: bool = typer.Option(True, "--gguf/--no-gguf", help="lora: also write a merged GGUF the llamacpp backend runs."),
    beta: float = typer.Option(0.1, "--beta", help="dpo: strength of the pull towards the base model (TRL's beta)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train a student on generated data: a MiniLM classifier, or a LoRA adapter on a small causal LM (SFT or DPO)."""
    from ..errors import UsageError
    from ..train import train_classifier, train_lora

    if student == "classifier":
        s = train_classifier(data, output, text_field=text_field, label_field=label_field,
                             split=split or "0.8,0,0.2", min_per_label=min_per_label, c=c, seed=seed,
                             label_set=labels)
    elif student == "lora":
        with lora_progress() as on_step:
            s = train_lora(data, output, base=base, split=split or "0.8,0.1,0.1", max_steps=max_steps,
                           epochs=epochs, rank=rank, alpha=alpha, lr=lr, max_length=max_length,
                           batch_size=batch_size, system=system, gguf=gguf, seed=seed, on_step=on_step)
    elif student == "dpo":
        from ..train.dpo import train_dpo

        with lora_progress() as on_step:
            s = train_dpo(data, output, base=base, split=split or "0.8,0.1,0.1", max_steps=max_steps, epochs=epochs,
                          rank=rank, alpha=alpha, lr=lr, beta=beta, max_length=max_length,
                          batch_size=batch_size, system=system, gguf=gguf, seed=seed, on_step=on_step)
    else:
        raise UsageError(f"--student must be classifier, lora or dpo (got {student!r})")
    console.print(f"trained {s.kind} student -> {s.out_dir}  rows: "
                  + ", ".join(f"{k} {v}" for k, v in s.counts.items()), highlight=False)
    if s.scores:
        from ..train.metrics import headline

        name, value = headline(s.scores)
        console.print(f"held-out synthetic split: {name} {value:.3f} (n={s.scores['n']}); "
                      f"real data: synthloom evaluate {s.out_dir} --data FILE", highlight=False)


@command
def evaluate_cmd(
    model: Path = typer.Argument(..., help="Student folder written by `synthloom train`; for tool calls, a `technique: tools` recipe (its model writes the calls) or a JSONL of predicted calls."),
    data: Path = typer.Option(..., "--data", help="JSONL or CSV file with the expected answers."),
    text_field: Optional[str] = typer.Option(None, "--text-field", help="Field with the input text."),
    label_field: Optional[str] = typer.Option(None, "--label-field", help="Field with the expected label/answer."),
    metric: Optional[str] = typer.Option(None, "--metric", help="labels | fields | text (default: chosen from the data)."),
    data_kind: Optional[str] = typer.Option(None, "--data-kind", help="real | synthetic (default: synthetic only for the student's own split)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the scores as JSON here."),
    md_out: Optional[Path] = typer.Option(None, "--md", help="Write the report as Markdown here."),
    baselines: bool = typer.Option(True, "--baselines/--no-baselines", help="Also score the untrained student."),
    limit: Optional[int] = typer.Option(None, "--limit", help="lora: score the first N examples only."),
    teacher: bool = typer.Option(False, "--teacher", help="lora: also score the teacher (base GGUF, few-shot, constrained JSON)."),
) -> None:
    """Score a trained student on held-out or real data: accuracy/macro-F1, field F1 or ROUGE-L, next to the untrained student."""
    from ..train.evaluate import evaluate, report_markdown, write_report

    report = evaluate(model, data, text_field=text_field, label_field=label_field, metric=metric,
                      data_kind_=data_kind, baselines=baselines, limit=limit,
                      **({"teacher": True} if teacher else {}))
    write_report(report, json_out, md_out)
    out.print(report_markdown(report), highlight=False, markup=False)


@command
def distill_cmd(
    recipe: Path = typer.Argument(..., help="Distill file: teacher recipe, student, eval data (see examples/distill-*.yaml)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for the run, student and report (default: the file's output)."),
    count: Optional[int] = typer.Option(None, "-n", "--count", help="Records the teacher makes (overrides the file)."),
) -> None:
    """Teacher -> gates -> split -> student -> evaluation: one report with the before/after numbers; resumable."""
    from ..train.distill import distill

    with lora_progress() as on_step:
        report = distill(recipe, output=output, count=count, on_step=on_step,
                         log=lambda s: console.print(f"distill: {s}", highlight=False))
        console.print(f"report -> {report['report_md']}", highlight=False)
