"""What every command shares: clean errors, exit codes, progress bars, summaries, one run path.

Every command's body runs inside `cli_errors(debug)` (the `command` decorator of
cli/options.py puts it there), and `main()` runs the whole app inside it again, so a
command added another way still gets the same behaviour: any
error becomes one line `error: ...` on stderr and an exit code (2 for the user's input,
1 for the rest), with a traceback only under `--debug`. The two consoles print text
literally (markup off): a file called `records[v2].json` or a hint `required: [items]`
stays as written. Style on purpose with `rich.text.Text`, never with `[bold]` tags;
print with `console` (stderr: messages, progress) or `out` (stdout: results).

A run goes one way, whatever started it: `run_shown` (progress bar, funnel, summary) for
`synthloom run`, and `run_from_flags` for every `generate` command, which builds the recipe
its flags describe and lets the Recipe model check it (a flag's value is named as the flag).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..errors import SynthloomError

# markup off: user text is printed as written; soft wrap: a long line (a path) is never cut in two
console = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
out = Console(markup=False, highlight=False, soft_wrap=True)


def error_line(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for any exception that reaches the command line."""
    if isinstance(exc, SynthloomError):
        return str(exc), exc.exit_code
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):  # options checked by a config model outside a recipe
        from ..config.messages import describe_validation_error

        return describe_validation_error(exc, "command line"), 2
    if isinstance(exc, OSError):
        from ..userfiles import os_reason

        return f"{os_reason(exc)}; check the path and that there is room and permission to write there", 1
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller -n, --concurrency or model", 1
    return (f"unexpected {type(exc).__name__}: {exc}; this is a bug in synthloom: "
            "run again with --debug for the traceback and report it"), 1


def print_error(message: str) -> None:
    text = Text("error:", style="bold red")
    text.append(" " + message)
    console.print(text)


@contextlib.contextmanager
def cli_errors(debug: bool = False) -> Iterator[None]:
    """Turn every error into one message and an exit code (2 usage, 1 runtime); no traceback unless --debug."""
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        console.print(Text("interrupted", style="yellow") + Text(": progress is saved; run the same command again to resume"))
        raise typer.Exit(130) from None
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            raise
        if debug:
            console.print_exception()
        message, code = error_line(exc)
        print_error(message)
        raise typer.Exit(code) from None


def run_app(app: typer.Typer) -> None:
    """Run the typer app with the same error handling around every command, registered or added later."""
    import click

    try:
        with cli_errors("--debug" in sys.argv[1:]):
            app()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


class _StatsColumn(ProgressColumn):
    def render(self, task) -> Text:
        f = task.fields
        extra = (f"  {_money(f['cost'])}" if f.get("cost") is not None else "") + \
            (f"  concurrency {f['limit']}" if f.get("limit") else "")
        return Text(
            f"rejected {f.get('rejected', 0)}  {f.get('tps', 0.0):.1f} tok/s  cache {f.get('hits', 0)}/{f.get('calls', 0)}"
            + extra,
            style="dim",
        )


def _money(x: float) -> str:
    from ..engine.cost import money

    return money(x)


@contextlib.contextmanager
def progress_bar(target: int, label: str = "accepted") -> Iterator:
    """Yields an `on_progress` callback for the engine."""
    prog = Progress(
        TextColumn(label.replace("{", "{{").replace("}", "}}"), style="bold", markup=False),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TaskProgressColumn(),
        _StatsColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
    task = prog.add_task(label, total=target)

    def update(p) -> None:
        prog.update(task, completed=p.accepted, rejected=p.rejected, tps=p.tokens_per_s, calls=p.calls, hits=p.cache_hits,
                    cost=getattr(p, "cost", None), limit=getattr(p, "limit", ""))

    with prog:
        yield update


def print_summary(summary) -> None:
    t = Table(title="funnel", show_header=True, header_style="bold")
    t.add_column("step")
    t.add_column("records", justify="right")
    previous = None
    for k, v in summary.funnel.items():
        if k in ("generated", "accepted") or v != previous:  # steps that removed nothing add no line
            t.add_row(k, str(v))
        previous = v
    console.print(t)
    if summary.rejections:
        r = Table(title="rejections", header_style="bold")
        r.add_column("stage")
        r.add_column("reason")
        r.add_column("count", justify="right")
        for stage, reason, n in summary.rejections[:12]:
            r.add_row(stage, reason, str(n))
        console.print(r)
    line = Text("complete", style="green") if summary.complete else Text(
        f"incomplete (budget: {summary.stopped_by})", style="yellow")
    line.append(f": {summary.accepted}/{summary.target} records -> ")
    line.append(str(summary.output_path), style="bold")
    line.append(f"  run dir {summary.run_dir}  calls {summary.calls} (cache hits {summary.cache_hits})  "
                f"{summary.completion_tokens} new tokens  {summary.wall_s:.1f} s"
                + (f"  cost {_money(summary.cost)}" if getattr(summary, "cost", None) is not None else ""))
    console.print(line)
    if not summary.complete:
        budget = summary.stopped_by if summary.stopped_by.startswith("max_") else "max_attempts"
        why = f"{summary.stop_detail}; " if getattr(summary, "stop_detail", "") else "see the rejections above; "
        console.print(
            f"only {summary.accepted} of {summary.target} records passed: {why}"
            f"raise engine.{budget} and run again to continue (finished calls replay from the cache)",
            highlight=False,
        )


def run_shown(recipe, base_dir: Path, output: str | None, run_dir: str | None = None, shard: str | None = None):
    """Run a recipe (or one shard of it, `i/N`) with a progress bar, print the funnel and summary, return the
    run summary."""
    from ..pipeline import arun_recipe  # the run, then its output.exports

    with progress_bar(recipe.count) as on_progress:
        summary = asyncio.run(arun_recipe(recipe, base_dir=base_dir, output=output, run_dir=run_dir,
                                          on_progress=on_progress, **({"shard": shard} if shard else {})))
    print_summary(summary)
    return summary


def exit_if_incomplete(summary) -> None:
    """Exit code 1 when a budget stopped the run before the target."""
    if not summary.complete:
        raise typer.Exit(1)


def flag_names(message: str, fields: dict[str, str] | None = None) -> str:
    """A config model's `command line: field ...` lines in the words of the flags that set the fields:
    those in `fields` (count -> -n/--count), or with None every top-level field (min_words -> --min-words)."""
    def flag(m: re.Match) -> str:
        name = m.group(1)
        if fields is None:
            return "--" + name.replace("_", "-") + m.group(2)
        return fields[name] + m.group(2) if name in fields else m.group(0)

    return "\n".join(re.sub(r"^command line: (\w+)(\W|$)", flag, line) for line in message.splitlines())


FLAG_OF_FIELD = {"count": "-n/--count"}  # recipe fields a `generate` command sets from a flag of another name


def run_from_flags(name: str, generate: dict, count: int, output: str, run, model: dict,
                   quality: list | None = None, then: Callable[[Any], None] | None = None):
    """A `synthloom generate ...` command: the recipe its flags describe (`run`: the RunFlags bundle,
    `model`: the model bundle's `model:` block), run with a progress bar and the summary printed;
    then `then(summary)`, and exit code 1 if the run stopped short. `name` names the run when -o has no stem."""
    from ..engine.recipe_file import recipe_from_dict
    from ..errors import RecipeError

    data = {"name": Path(output).stem or name, "count": count, "model": model, "generate": generate,
            **({"quality": quality} if quality is not None else {}),
            "engine": run.engine(), "output": run.output()}
    checks = run.check_names() if hasattr(run, "check_names") else None
    if checks is not None:
        data["checks"] = checks
    try:
        recipe = recipe_from_dict(data, "command line")
    except RecipeError as exc:
        raise RecipeError(flag_names(str(exc), FLAG_OF_FIELD)) from None
    summary = run_shown(recipe, Path.cwd(), output)
    if then is not None:
        then(summary)
    exit_if_incomplete(summary)
    return summary


def read_rows(path: Optional[Path], what: str) -> list[Any]:
    """Rows of a JSONL file, or the list in a JSON/YAML file."""
    from ..errors import InputFileError
    from ..userfiles import read_data, read_text

    if path is None:
        return []
    if path.suffix in (".yaml", ".yml", ".json"):
        value = read_data(path, f"{what} file")
        return value if isinstance(value, list) else [value]
    rows = []
    for n, line in enumerate(read_text(path, f"{what} file").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise InputFileError(f"{path}:{n}: not valid JSON ({exc}); give a JSONL file (one {what} per line) "
                                     "or a JSON/YAML list") from None
    return rows
