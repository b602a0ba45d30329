"""`synthloom merge`: join the shards of a sharded run (`synthloom run RECIPE --shard i/N`)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import out
from .options import command


@command
def merge_cmd(
    run_dirs: List[Path] = typer.Argument(..., help="The run directories of every shard (`synthloom run RECIPE --shard i/N -o DIR`)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Output file (.jsonl/.parquet/.csv) or folder of the merged run; default the recipe's output.path."),
    count: Optional[int] = typer.Option(None, "-n", "--count", help="Records the merged run keeps, the first in slot order (default: the recipe's count); run the shards with a larger -n to make up for cross-shard duplicates."),
    report: bool = typer.Option(True, "--report/--no-report", help="Also write the merged run's report (RUN_DIR/report)."),
) -> None:
    """Join a sharded run's shards: records in slot order through the recipe's dedup gates across shards,
    then one data file, one run store, one manifest and one report."""
    from ..engine.shards import merge_runs

    m = merge_runs(run_dirs, output, count=count)
    dropped = sum(n for _, n in m.dropped)
    out.print(f"merged {len(m.shards)} shards: {m.accepted} of {m.target} records -> {m.output_path}"
              + (f"; {dropped} repeated another shard's record ({', '.join(f'{r}: {n}' for r, n in m.dropped)})"
                 if dropped else "")
              + (f"; {m.surplus} past the count left out" if m.surplus else ""))
    if report:
        from ..export.report import write_report

        paths = write_report(m.run_dir)
        out.print(f"report: {paths['markdown']}")
    if not m.complete:
        out.print(f"{m.target - m.accepted} short of the count: run each shard again with a higher -n, then merge again")
        raise typer.Exit(1)
