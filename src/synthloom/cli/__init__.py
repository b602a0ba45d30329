"""The `synthloom` command: a thin layer over the library.

Commands are plain module-level functions (one module per area), each wrapped in
`options.command`, which expands the shared option bundles and adds --debug; `_register`
below is the one table of every command and its name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common
from .common import exit_if_incomplete, read_rows, run_from_flags, run_shown
from .options import MODEL, RUN, RulesOpt, RunFlags, command, parse_attributes

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
    shard: Optional[str] = typer.Option(None, "--shard", help="i/N: make only the slots with slot % N == i, in a run directory of its own; join the shards with `synthloom merge`."),
) -> None:
    """Run a recipe. Running it again resumes where it stopped and replays finished calls from the cache."""
    from ..engine.recipe_file import load_recipe

    recipe = load_recipe(recipe_file, {"count": count})
    if estimate:
        from .estimate import pilot as run_pilot

        if not run_pilot(recipe, recipe_file.parent, output, pilot).possible:
            raise typer.Exit(1)
    exit_if_incomplete(run_shown(recipe, recipe_file.parent, output, shard=shard))


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
    wrap: Optional[str] = typer.Option(None, "--wrap", help="Store each value as {FIELD: value} (for a schema whose root is an array, a string or a union)."),
    rules: Optional[Path] = RulesOpt,
) -> None:
    """Records that validate against a JSON schema, guided by an instruction and attribute axes."""
    from ..quality.apply import read_jsonl

    from ..userfiles import jsonl_values

    ex_rows = [v for _, v in jsonl_values(examples, "give a JSONL file, one record per line")] if examples else []
    gen = {"technique": "schema", "schema": schema, "instruction": instruction,
           "attributes": parse_attributes(attribute), "examples": ex_rows, **({"wrap": wrap} if wrap else {}),
           **({"rules": read_rows(rules, "rules")} if rules else {})}
    run_from_flags("schema", gen, count, output, run, model)


def _register() -> None:
    """Every command, in the order `--help` lists them: (group, name, function)."""
    from . import classify, decontaminate, documents, estimate, instruct, quality, redteam, review, score, status, train
    from . import conversation, shards
    from . import tools as tools_cli

    for group, name, fn in (
        (app, "run", run),
        (app, "export", instruct.export),
        (app, "rag-export", documents.rag_export),
        (app, "dedup", quality.dedup_cmd),
        (app, "decontaminate", decontaminate.decontaminate_cmd),
        (app, "filter", quality.filter_cmd),
        (app, "judge", quality.judge_cmd),
        (app, "label-check", quality.label_check_cmd),
        (app, "merge", shards.merge_cmd),
        (app, "report", quality.report_cmd),
        (app, "status", status.status_cmd),
        (app, "sample", quality.sample_cmd),
        (app, "review-import", quality.review_import_cmd),
        (app, "score", score.score_cmd),
        (app, "compare", classify.compare),
        (app, "estimate", estimate.estimate),
        (app, "redteam", redteam.redteam),
        (app, "redteam-export", redteam.redteam_export),
        (app, "simulate", conversation.simulate),
        (app, "review", review.review_cmd),
        (app, "calibrate", review.calibrate_cmd),
        (app, "train", train.train_cmd),
        (app, "evaluate", train.evaluate_cmd),
        (app, "distill", train.distill_cmd),
        (generate_app, "schema", generate_schema),
        (generate_app, "self-instruct", instruct.generate_self_instruct),
        (generate_app, "evol-instruct", instruct.generate_evol_instruct),
        (generate_app, "extract", documents.generate_extract),
        (generate_app, "documents", documents.generate_documents),
        (generate_app, "qa", documents.generate_qa),
        (generate_app, "classification", classify.generate_classification),
        (generate_app, "augment", classify.generate_augment),
        (generate_app, "redteam", redteam.generate_redteam),
        (generate_app, "translate", redteam.generate_translate),
        (generate_app, "adversarial", redteam.generate_adversarial),
        (generate_app, "conversation", conversation.generate_conversation),
        (generate_app, "tools", tools_cli.generate_tools),
    ):
        group.command(name)(fn)
    _register_built()


def _register_built() -> None:
    """`synthloom generate <tag>` for every technique in config/catalog.py that has no command above."""
    from ..config.catalog import TECHNIQUES
    from .built import technique_command

    written = {info.name for info in generate_app.registered_commands}
    for technique in TECHNIQUES:
        name = technique.tag.replace("_", "-")
        if name not in written:
            generate_app.command(name)(technique_command(technique.config, technique.tag))


_register()


def main() -> None:
    common.run_app(app)


__all__ = ["app", "generate_app", "main", "common"]
