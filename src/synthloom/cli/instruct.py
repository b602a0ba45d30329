"""CLI for instruction data: `generate self-instruct`, `generate evol-instruct`, and `export`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _engine(concurrency: int, seed: int, max_attempts: Optional[int], max_tokens: Optional[int]) -> dict:
    eng = {"concurrency": concurrency, "seed": seed}
    if max_attempts:
        eng["max_attempts"] = max_attempts
    if max_tokens:
        eng["max_tokens"] = max_tokens
    return eng


def _run(name: str, count: int, generate: dict, engine: dict, model: dict, output: str,
         with_meta: bool, rejected: bool) -> None:
    from ..engine.recipe_file import recipe_from_dict
    from ..errors import UsageError
    from . import _finish

    if count <= 0:
        raise UsageError(f"-n/--count must be > 0 (got {count})")
    data = {"name": name, "count": count, "model": model, "generate": generate, "engine": engine,
            "output": {"with_meta": with_meta, "rejected": rejected}}
    recipe = recipe_from_dict(data, "command line")
    _finish(recipe, Path.cwd(), output)


def register(app: typer.Typer, generate_app: typer.Typer) -> None:
    from . import BackendOpt, BaseUrlOpt, DebugOpt, GgufOpt, KeyEnvOpt, ModelOpt, model_options
    from .common import cli_errors

    SeedsOpt = typer.Option(..., "--seeds", help="JSONL seed tasks: instruction, optional input, output (see examples/seeds.jsonl).")
    CountOpt = typer.Option(50, "-n", "--count", help="How many accepted instruction/response records to make.")
    OutOpt = typer.Option("out", "-o", "--output", help="Output folder: gets data.jsonl, store.sqlite, manifest.json (or a .jsonl file).")
    ConcOpt = typer.Option(1, "--concurrency", help="Slots (candidate tasks) in flight.")
    SeedOpt = typer.Option(0, "--seed", help="Run seed: the same seed replays from the cache.")
    AttemptsOpt = typer.Option(None, "--max-attempts", help="Give up after this many candidate slots (default 5 x n + 20).")
    TokensOpt = typer.Option(None, "--max-tokens", help="Budget: stop after this many completion tokens.")
    MetaOpt = typer.Option(False, "--with-meta", help="Add each record's lineage under _meta.")
    RejOpt = typer.Option(False, "--rejected", help="Also write rejected candidates to rejected.jsonl.")
    MaxTokOpt = typer.Option(512, "--max-new-tokens", help="Longest model output per call, in tokens.")
    SignalsOpt = typer.Option("form,completeness,relevance,fluency", "--signals",
                              help="Quality signals used as gates (comma-separated), or 'none'.")

    def signal_list(text: str) -> list[str]:
        return [] if text.strip().lower() in ("", "none") else [s.strip() for s in text.split(",") if s.strip()]

    @generate_app.command("self-instruct")
    def generate_self_instruct(
        seeds: str = SeedsOpt, count: int = CountOpt, output: str = OutOpt,
        rouge_threshold: float = typer.Option(0.7, "--rouge-threshold", help="Drop a new task whose ROUGE-L F with any pooled task is above this."),
        instances: int = typer.Option(2, "--instances-per-task", help="Input/output instances per new task."),
        blacklist: Optional[str] = typer.Option(None, "--blacklist", help="Comma-separated keywords that drop a task (replaces the paper's list)."),
        max_new_tokens: int = MaxTokOpt, signals: str = SignalsOpt,
        concurrency: int = ConcOpt, seed: int = SeedOpt, max_attempts: Optional[int] = AttemptsOpt,
        max_tokens: Optional[int] = TokensOpt, with_meta: bool = MetaOpt, rejected: bool = RejOpt,
        backend: str = BackendOpt, base_url: Optional[str] = BaseUrlOpt, model: Optional[str] = ModelOpt,
        api_key_env: Optional[str] = KeyEnvOpt, gguf: Optional[str] = GgufOpt, debug: bool = DebugOpt,
    ) -> None:
        """Self-Instruct: grow new tasks (instruction, input, output) from a few seed tasks, with the paper's filters."""
        with cli_errors(debug):
            gen = {"technique": "self_instruct", "seeds": str(Path(seeds).resolve()), "rouge_threshold": rouge_threshold,
                   "instances_per_task": instances, "sampling": {"max_tokens": max_new_tokens},
                   "signals": signal_list(signals)}
            if blacklist is not None:
                gen["blacklist"] = [w for w in blacklist.split(",") if w.strip()]
            _run(Path(output).stem or "self-instruct", count, gen, _engine(concurrency, seed, max_attempts, max_tokens),
                 model_options(backend, base_url, model, api_key_env, gguf), output, with_meta, rejected)

    @generate_app.command("evol-instruct")
    def generate_evol_instruct(
        seeds: str = SeedsOpt, count: int = CountOpt, output: str = OutOpt,
        rounds: int = typer.Option(4, "--rounds", help="Evolution rounds M: records go up to this depth."),
        operations: Optional[str] = typer.Option(None, "--operations", help="Comma-separated subset of: add_constraints, deepen, concretize, increase_reasoning, complicate_input, breadth."),
        judge: bool = typer.Option(False, "--judge", help="Ask the model whether an evolution adds information (default: a near-duplicate test)."),
        max_new_tokens: int = MaxTokOpt, signals: str = SignalsOpt,
        concurrency: int = ConcOpt, seed: int = SeedOpt, max_attempts: Optional[int] = AttemptsOpt,
        max_tokens: Optional[int] = TokensOpt, with_meta: bool = MetaOpt, rejected: bool = RejOpt,
        backend: str = BackendOpt, base_url: Optional[str] = BaseUrlOpt, model: Optional[str] = ModelOpt,
        api_key_env: Optional[str] = KeyEnvOpt, gguf: Optional[str] = GgufOpt, debug: bool = DebugOpt,
    ) -> None:
        """Evol-Instruct: evolve seed instructions over several rounds into harder ones, and answer them."""
        with cli_errors(debug):
            gen = {"technique": "evol_instruct", "seeds": str(Path(seeds).resolve()), "rounds": rounds,
                   "information_gain": "judge" if judge else "near_duplicate",
                   "response_max_tokens": max_new_tokens, "sampling": {"max_tokens": max_new_tokens},
                   "signals": signal_list(signals)}
            if operations:
                gen["operations"] = [o.strip() for o in operations.split(",") if o.strip()]
            _run(Path(output).stem or "evol-instruct", count, gen, _engine(concurrency, seed, max_attempts, max_tokens),
                 model_options(backend, base_url, model, api_key_env, gguf), output, with_meta, rejected)

    @app.command("export")
    def export(
        run_dir: Path = typer.Argument(..., help="A run folder (what you gave -o), or its data .jsonl file."),
        fmt: str = typer.Option("openai", "--format", "-f", help="openai | sharegpt | alpaca | chatml | hf | parquet."),
        split: str = typer.Option("0.8,0.1,0.1", "--split", help="train,validation,test fractions (1 to 3 values adding up to 1)."),
        output: Path = typer.Option(..., "-o", "--output", help="Output folder (gets the split files and README.md)."),
        system: Optional[str] = typer.Option(None, "--system", help="System prompt added to every conversation."),
        seed: int = typer.Option(0, "--seed", help="Seed for the split."),
        stratify: Optional[str] = typer.Option(None, "--stratify", help="Keep this field's proportions in every split: a record field, or meta.KEY for lineage (meta.round, meta.is_classification)."),
        near_duplicate: float = typer.Option(0.7, "--near-duplicate", help="Prompts with ROUGE-L F above this stay in one split (1 = off)."),
        instruction_field: Optional[str] = typer.Option(None, "--instruction-field", help="Field holding the instruction (default: instruction/prompt/question)."),
        input_field: Optional[str] = typer.Option(None, "--input-field", help="Field holding the optional input (default: input)."),
        output_field: Optional[str] = typer.Option(None, "--output-field", help="Field holding the response (default: output/response/answer)."),
        debug: bool = DebugOpt,
    ) -> None:
        """Export a run's accepted records for fine-tuning: chat formats or HF datasets, with splits and a dataset card."""
        from ..export.chat import Fields
        from ..export.dataset import export_run
        from .common import console

        with cli_errors(debug):
            fields = None
            if instruction_field or input_field or output_field:
                fields = Fields(instruction_field or "instruction", input_field or "input", output_field or "output")
            s = export_run(run_dir, fmt, output, split=split, system=system, seed=seed, stratify=stratify,
                           near_duplicate=near_duplicate, fields=fields)
            counts = ", ".join(f"{k} {v}" for k, v in s.counts.items())
            console.print(f"exported {sum(s.counts.values())} records as {s.format} ({counts}) -> {s.out_dir}"
                          f"  card: {s.card}")
