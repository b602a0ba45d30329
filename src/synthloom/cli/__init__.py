"""The `synthloom` command: a thin layer over the library."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common
from .common import exit_if_incomplete, run_from_flags, run_shown
from .options import MODEL, RUN, RunFlags, command, parse_attributes

app = typer.Typer(
    name="synthloom",
    help="Synthetic data generation with language models: make records a model can learn from, keep only the good ones.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
generate_app = typer.Typer(help="Generate data with one technique, without writing a recipe.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")


@command
def run(
    recipe_file: Path = typer.Argument(..., help="A YAML recipe (see examples/)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output file (.jsonl/.parquet) or folder; overrides output.path."),
    count: Optional[int] = typer.Option(None, "-n", "--count", help="Records to make; overrides count."),
    estimate: bool = typer.Option(False, "--estimate", help="First a pilot and its projection (see `synthloom estimate`), then the run."),
    pilot: Optional[int] = typer.Option(None, "--pilot", help="Records the --estimate pilot makes."),
) -> None:
    """Run a recipe. Running it again resumes where it stopped and replays finished calls from the cache."""
    from ..engine.recipe_file import load_recipe

    recipe = load_recipe(recipe_file, {"count": count})
    if estimate:
        from .estimate import pilot as run_pilot

        if not run_pilot(recipe, recipe_file.parent, output, pilot).possible:
            raise typer.Exit(1)
    exit_if_incomplete(run_shown(recipe, recipe_file.parent, output))


@command
def generate_schema(
    schema: str = typer.Option(..., "--schema", help="JSON schema: a .json/.yaml file or a pydantic model as module:Class."),
    instruction: Optional[str] = typer.Option(None, "--instruction", help="What the records are about (optional)."),
    count: int = typer.Option(10, "-n", "--count", help="How many valid records to make."),
    output: str = typer.Option("out.jsonl", "-o", "--output", help="Output file (.jsonl/.parquet) or folder."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="Diversity axis, axis=v1,v2,... (repeatable)."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="JSONL file of example records (few-shot)."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Records that validate against a JSON schema, guided by an instruction and attribute axes."""
    from ..quality.apply import read_jsonl

    ex_rows = read_jsonl(examples, objects_only=True)[1] if examples else []
    gen = {"technique": "schema", "schema": schema, "instruction": instruction,
           "attributes": parse_attributes(attribute), "examples": ex_rows}
    run_from_flags("schema", gen, count, output, run, model)


def _register_parts() -> None:
    from . import classify, documents, estimate, instruct, quality, redteam, review, score, train

    app.command()(run)
    generate_app.command("schema")(generate_schema)
    for part in (instruct, documents, quality, score, classify, estimate, redteam, review, train):
        part.register(app, generate_app)


_register_parts()


def main() -> None:
    common.run_app(app)


__all__ = ["app", "generate_app", "main", "common"]
