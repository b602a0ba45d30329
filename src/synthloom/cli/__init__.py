"""The `synthloom` command: a thin layer over the library."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer

from . import common
from .common import cli_errors, print_summary, progress_bar

app = typer.Typer(
    name="synthloom",
    help="Synthetic data generation with language models: make records a model can learn from, keep only the good ones.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
generate_app = typer.Typer(help="Generate data with one technique, without writing a recipe.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")

DebugOpt = typer.Option(False, "--debug", help="Show tracebacks and debug logs.")


def _finish(recipe, base_dir: Path, output: Optional[str], run_dir: Optional[str] = None) -> None:
    from ..engine import arun_recipe

    with progress_bar(recipe.count) as on_progress:
        summary = asyncio.run(arun_recipe(recipe, base_dir=base_dir, output=output, run_dir=run_dir,
                                          on_progress=on_progress))
    print_summary(summary)
    if not summary.complete:
        raise typer.Exit(1)


@app.command()
def run(
    recipe_file: Path = typer.Argument(..., help="A YAML recipe (see examples/)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output file (.jsonl/.parquet) or folder; overrides output.path."),
    count: Optional[int] = typer.Option(None, "-n", "--count", help="Records to make; overrides count."),
    estimate: bool = typer.Option(False, "--estimate", help="First a pilot and its projection (see `synthloom estimate`), then the run."),
    pilot: Optional[int] = typer.Option(None, "--pilot", help="Records the --estimate pilot makes."),
    debug: bool = DebugOpt,
) -> None:
    """Run a recipe. Running it again resumes where it stopped and replays finished calls from the cache."""
    from ..engine.recipe_file import load_recipe

    with cli_errors(debug):
        recipe = load_recipe(recipe_file, {"count": count})
        if estimate:
            from .estimate import pilot as run_pilot

            if not run_pilot(recipe, recipe_file.parent, output, pilot).possible:
                raise typer.Exit(1)
        _finish(recipe, recipe_file.parent, output)


def model_options(backend: str, base_url: Optional[str], model: Optional[str], api_key_env: Optional[str],
                  gguf: Optional[str]) -> dict:
    if backend == "openai":
        if not base_url or not model:
            from ..errors import UsageError

            raise UsageError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1) and --model NAME")
        cfg = {"backend": "openai", "base_url": base_url, "model": model}
        if api_key_env:
            cfg["api_key_env"] = api_key_env
        return cfg
    if backend != "llamacpp":
        from ..errors import UsageError

        raise UsageError(f"--backend must be llamacpp or openai (got {backend!r})")
    return {"backend": "llamacpp", **({"path": gguf} if gguf else {})}


BackendOpt = typer.Option("llamacpp", "--backend", help="llamacpp (in-process, bundled model) or openai (any OpenAI-compatible server).")
BaseUrlOpt = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
ModelOpt = typer.Option(None, "--model", help="Model name on the server (openai backend).")
KeyEnvOpt = typer.Option(None, "--api-key-env", help="Environment variable holding the API key (default OPENAI_API_KEY).")
GgufOpt = typer.Option(None, "--gguf", help="A GGUF file for the llamacpp backend (default: the bundled Gemma 3 270M).")


def _parse_attributes(items: list[str]) -> dict[str, list[str]]:
    from ..errors import UsageError

    out: dict[str, list[str]] = {}
    for item in items:
        axis, sep, values = item.partition("=")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not axis.strip() or not vals:
            raise UsageError(f"--attribute {item!r}: write it as axis=value1,value2 (e.g. tone=angry,polite)")
        out[axis.strip()] = vals
    return out


@generate_app.command("schema")
def generate_schema(
    schema: str = typer.Option(..., "--schema", help="JSON schema: a .json/.yaml file or a pydantic model as module:Class."),
    instruction: Optional[str] = typer.Option(None, "--instruction", help="What the records are about (optional)."),
    count: int = typer.Option(10, "-n", "--count", help="How many valid records to make."),
    output: str = typer.Option("out.jsonl", "-o", "--output", help="Output file (.jsonl/.parquet) or folder."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="Diversity axis, axis=v1,v2,... (repeatable)."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="JSONL file of example records (few-shot)."),
    concurrency: int = typer.Option(1, "--concurrency", help="Requests in flight."),
    max_attempts: Optional[int] = typer.Option(None, "--max-attempts", help="Give up after this many candidates."),
    seed: int = typer.Option(0, "--seed", help="Run seed: the same seed replays from the cache."),
    with_meta: bool = typer.Option(False, "--with-meta", help="Add each record's lineage under _meta."),
    wrap: Optional[str] = typer.Option(None, "--wrap", help="Store each value as {FIELD: value} (for a schema whose root is an array, a string or a union)."),
    backend: str = BackendOpt, base_url: Optional[str] = BaseUrlOpt, model: Optional[str] = ModelOpt,
    api_key_env: Optional[str] = KeyEnvOpt, gguf: Optional[str] = GgufOpt,
    debug: bool = DebugOpt,
) -> None:
    """Records that validate against a JSON schema, guided by an instruction and attribute axes."""
    from ..engine.recipe_file import recipe_from_dict
    from ..errors import InputFileError

    with cli_errors(debug):
        ex_rows = []
        if examples:
            try:
                ex_rows = [json.loads(l) for l in examples.read_text().splitlines() if l.strip()]
            except (OSError, ValueError) as exc:
                raise InputFileError(f"{examples}: cannot read example records ({exc}); give a JSONL file, one record per line") from None
        data = {
            "name": Path(output).stem or "schema",
            "count": count,
            "model": model_options(backend, base_url, model, api_key_env, gguf),
            "generate": {"technique": "schema", "schema": schema, "instruction": instruction,
                         "attributes": _parse_attributes(attribute), "examples": ex_rows,
                         **({"wrap": wrap} if wrap else {})},
            "engine": {"concurrency": concurrency, "seed": seed, **({"max_attempts": max_attempts} if max_attempts else {})},
            "output": {"with_meta": with_meta},
        }
        if count <= 0:
            from ..errors import UsageError

            raise UsageError(f"-n/--count must be > 0 (got {count})")
        recipe = recipe_from_dict(data, "command line")
        _finish(recipe, Path.cwd(), output)


def _register_parts() -> None:
    from . import classify, documents, estimate, instruct, quality, redteam, review, score, train

    for part in (instruct, documents, quality, score, classify, estimate, redteam, review, train):
        part.register(app, generate_app)


_register_parts()


def main() -> None:
    common.run_app(app)


__all__ = ["app", "generate_app", "main", "common"]
