"""`synthloom status RUN`: where a run stands, read from its store (works while the run is going or after it died)."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from .common import out
from .options import command


def _ago(t: float | None) -> str:
    if not t:
        return "—"
    d = t - time.time()
    span = abs(d)
    text = f"{span:.0f} s" if span < 120 else f"{span / 60:.0f} min" if span < 7200 else f"{span / 3600:.1f} h"
    return f"in {text}" if d > 0 else f"{text} ago"


@command
def status_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory (holds store.sqlite; for -o x.jsonl it is x.run/)."),
) -> None:
    """Show a run's state: records accepted, attempts, rejections, and its provider batches in flight (batch_api)."""
    from ..runs import open_store
    from ..runs.batch_log import BatchLog, has_batches

    with open_store(run_dir, "a run directory (for -o x.jsonl it is x.run/)") as store:
        info = store.run_info()
        rid = info["run_id"]
        target = (info["recipe"] or {}).get("count")
        out.print(f"run {rid} ({info['name']}): {info['status']}, {store.accepted_count(rid)}"
                  + (f" of {target}" if target else "") + f" records accepted, {len(store.done_slots(rid))} attempts, "
                  f"{sum(n for s, _r, n in store.rejection_counts(rid) if s != 'surplus')} rejected; "
                  f"updated {_ago(info['updated'])}")
        if not has_batches(store):
            return
        log = BatchLog(store)
        s = log.summary(rid)
        if not s["batches"]:
            return
        states = ", ".join(f"{n} {k}" for k, n in sorted(s["by_state"].items()))
        out.print(f"batches: {s['batches']} ({states}), {s['requests']:,} requests"
                  + ("; asked again: " + ", ".join(f"{n} {r}" for r, n in sorted(s["retried"].items()))
                     if s["retried"] else ""))
        if not s["in_flight"]:
            out.print("no batch in flight")
            return
        out.print("in flight:")
        for b in s["in_flight"]:
            counts = ", ".join(f"{k} {v}" for k, v in b["counts"].items() if k != "total")
            out.print(f"  {b['local_id']}  {b['batch_id'] or '(no provider id yet)'}  {b['state']}"
                      + (f" ({b['provider_status']})" if b["provider_status"] else "") + f"  {b['n']} requests"
                      + (f": {counts}" if counts else "") + f"  expires {_ago(b['expires_at'])}")
