"""CLI for instruction data: `generate self-instruct`, `generate evol-instruct`, and `export`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import console, run_from_flags
from .options import MODEL, RUN_WITH_TOKENS, OutputOpt, RunFlags, command, csv_list, resolved


SeedsOpt = typer.Option(..., "--seeds", help="JSONL seed tasks: instruction, optional input, output (see examples/seeds.jsonl).")
CountOpt = typer.Option(50, "-n", "--count", help="How many accepted instruction/response records to make.")
MaxTokOpt = typer.Option(512, "--max-new-tokens", help="Longest model output per call, in tokens.")
SignalsOpt = typer.Option("form,completeness,relevance,fluency", "--signals",
                          help="Quality signals used as gates (comma-separated), or 'none'.")


def _signals(text: str) -> list[str]:
    return [] if text.strip().lower() in ("", "none") else csv_list(text)


@command
def generate_self_instruct(
    seeds: str = SeedsOpt, count: int = CountOpt, output: str = OutputOpt,
    rouge_threshold: float = typer.Option(0.7, "--rouge-threshold", help="Drop a new task whose ROUGE-L F with any pooled task is above this."),
    instances: int = typer.Option(2, "--instances-per-task", help="Input/output instances per new task."),
    blacklist: Optional[str] = typer.Option(None, "--blacklist", help="Comma-separated keywords that drop a task (replaces the paper's list)."),
    prompt_form: str = typer.Option("auto", "--prompt-form", help="New tasks: auto, document (the paper's numbered list a base model continues) or chat (turns with JSON); auto: document for a base model."),
    max_new_tokens: int = MaxTokOpt, signals: str = SignalsOpt,
    run: RunFlags = RUN_WITH_TOKENS,
    model: dict = MODEL,
) -> None:
    """Self-Instruct: grow new tasks (instruction, input, output) from a few seed tasks, with the paper's filters."""
    gen = {"technique": "self_instruct", "seeds": resolved(seeds), "rouge_threshold": rouge_threshold,
           "instances_per_task": instances, "sampling": {"max_tokens": max_new_tokens}, "signals": _signals(signals)}
    if blacklist is not None:
        gen["blacklist"] = [w for w in blacklist.split(",") if w.strip()]
    if prompt_form != "auto":
        gen["prompt_form"] = prompt_form
    run_from_flags("self-instruct", gen, count, output, run, model)


@command
def generate_evol_instruct(
    seeds: str = SeedsOpt, count: int = CountOpt, output: str = OutputOpt,
    rounds: int = typer.Option(4, "--rounds", help="Evolution rounds M: records go up to this depth."),
    operations: Optional[str] = typer.Option(None, "--operations", help="Comma-separated subset of: add_constraints, deepen, concretize, increase_reasoning, complicate_input, breadth."),
    judge: bool = typer.Option(False, "--judge", help="Ask the model whether an evolution adds information (default: a near-duplicate test)."),
    max_new_tokens: int = MaxTokOpt, signals: str = SignalsOpt,
    run: RunFlags = RUN_WITH_TOKENS,
    model: dict = MODEL,
) -> None:
    """Evol-Instruct: evolve seed instructions over several rounds into harder ones, and answer them."""
    gen = {"technique": "evol_instruct", "seeds": resolved(seeds), "rounds": rounds,
           "information_gain": "judge" if judge else "near_duplicate",
           "response_max_tokens": max_new_tokens, "sampling": {"max_tokens": max_new_tokens},
           "signals": _signals(signals)}
    if operations:
        gen["operations"] = csv_list(operations)
    run_from_flags("evol-instruct", gen, count, output, run, model)


@command
def export(
    run_dir: Path = typer.Argument(..., help="A run folder (what you gave -o), or its data .jsonl file."),
    fmt: str = typer.Option("openai", "--format", "-f", help="openai | sharegpt | alpaca | chatml | hf | parquet; preference pairs: dpo | dpo-chat | kto | ultrafeedback."),
    split: str = typer.Option("0.8,0.1,0.1", "--split", help="train,validation,test fractions (1 to 3 values adding up to 1)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (gets the split files and README.md)."),
    system: Optional[str] = typer.Option(None, "--system", help="System prompt added to every conversation."),
    seed: int = typer.Option(0, "--seed", help="Seed for the split."),
    stratify: Optional[str] = typer.Option(None, "--stratify", help="Keep this field's proportions in every split: a record field, or meta.KEY for lineage (meta.round, meta.is_classification)."),
    near_duplicate: float = typer.Option(0.7, "--near-duplicate", help="Prompts with ROUGE-L F above this stay in one split (1 = off)."),
    instruction_field: Optional[str] = typer.Option(None, "--instruction-field", help="Field holding the instruction (default: instruction/prompt/question)."),
    input_field: Optional[str] = typer.Option(None, "--input-field", help="Field holding the optional input (default: input)."),
    output_field: Optional[str] = typer.Option(None, "--output-field", help="Field holding the response (default: output/response/answer)."),
) -> None:
    """Export a run's accepted records for fine-tuning: chat formats or HF datasets, with splits and a dataset card."""
    from ..export.chat import Fields
    from ..export.dataset import export_run

    fields = None
    if instruction_field or input_field or output_field:
        fields = Fields(instruction_field or "instruction", input_field or "input", output_field or "output")
    s = export_run(run_dir, fmt, output, split=split, system=system, seed=seed, stratify=stratify,
                   near_duplicate=near_duplicate, fields=fields)
    counts = ", ".join(f"{k} {v}" for k, v in s.counts.items())
    console.print(f"exported {sum(s.counts.values())} records as {s.format} ({counts}) -> {s.out_dir}"
                  f"  card: {s.card}")
