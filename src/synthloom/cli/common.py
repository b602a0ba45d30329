"""What every command shares: clean errors, exit codes, progress bars, summaries."""
from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..errors import SynthloomError

console = Console(stderr=True)
out = Console()


@contextlib.contextmanager
def cli_errors(debug: bool = False) -> Iterator[None]:
    """Turn synthloom errors into one message and an exit code (2 usage, 1 runtime); no traceback unless --debug."""
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        yield
    except SynthloomError as exc:
        if debug:
            console.print_exception()
        console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: progress is saved; run the same command again to resume")
        raise typer.Exit(130) from None


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
        TextColumn(f"[bold]{label}"),
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
    state = "[green]complete[/]" if summary.complete else f"[yellow]incomplete (budget: {summary.stopped_by})[/]"
    console.print(
        f"{state}: {summary.accepted}/{summary.target} records -> [bold]{summary.output_path}[/]  "
        f"run dir {summary.run_dir}  calls {summary.calls} (cache hits {summary.cache_hits})  "
        f"{summary.completion_tokens} new tokens  {summary.wall_s:.1f} s"
        + (f"  cost {_money(summary.cost)}" if getattr(summary, "cost", None) is not None else ""),
        highlight=False,
    )
    if not summary.complete:
        budget = summary.stopped_by if summary.stopped_by.startswith("max_") else "max_attempts"
        why = f"{summary.stop_detail}; " if getattr(summary, "stop_detail", "") else "see the rejections above; "
        console.print(
            f"only {summary.accepted} of {summary.target} records passed: {why}"
            f"raise engine.{budget} and run again to continue (finished calls replay from the cache)",
            highlight=False,
        )
