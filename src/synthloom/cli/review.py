"""CLI commands for human review: `review` (the spot-check page) and `calibrate` (gates vs. reviewers)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .common import console, out
from .options import command


def _open_browser(url: str) -> bool:
    """Open the page when a graphical browser is there (never a console browser that would take the terminal)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import webbrowser

    try:
        return webbrowser.open(url)
    except Exception:  # no browser: the printed address is enough
        return False


@command
def review_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory (holds store.sqlite)."),
    n: int = typer.Option(50, "-n", "--count", help="Accepted records to sample (stratified)."),
    rejected: int = typer.Option(0, "--rejected", help="Also sample this many rejected candidates (to calibrate gates)."),
    by: Optional[str] = typer.Option(None, "--by", help="Stratify by this attribute or field (default: the label, else the first attribute)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the sample (the same seed gives the same sample)."),
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (default: a free one)."),
    blind: bool = typer.Option(False, "--blind", help="Hide gate scores and accepted/rejected until a verdict is given."),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open the page in a browser."),
) -> None:
    """Review a sample of a run's records in the browser: accept/reject/skip by key, saved at once in the run store."""
    from ..review.server import serve
    from ..review.session import ReviewSession

    if not 0 <= port <= 65535:
        from ..errors import UsageError

        raise UsageError(f"--port must be 0-65535 (got {port})")
    session = ReviewSession(run_dir, n, rejected=rejected, by=by, seed=seed, blind=blind)
    have = len(session.items.accepted)
    if n > have:
        console.print(f"asked for {n} records, the run has {have} accepted: reviewing all {have}", highlight=False)
    if rejected > len(session.items.rejected):
        console.print(f"asked for {rejected} rejected candidates, the run kept {len(session.items.rejected)} "
                      f"with data: reviewing all of them", highlight=False)

    def ready(url: str) -> None:
        done = session.summary()["sample"]["done"]
        out.print(f"reviewing {len(session.ids)} records of {session.items.name}"
                  + (f" ({done} already reviewed)" if done else "")
                  + f" at\n  {url}\nverdicts are saved as you give them; Ctrl-C stops the server", highlight=False,
                  soft_wrap=True)
        sys.stdout.flush()
        if not no_open:
            _open_browser(url)

    try:
        serve(session, port, ready)
    finally:
        session.close()


@command
def calibrate_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory with human verdicts (from `synthloom review`)."),
    min_agreement: float = typer.Option(0.8, "--min-agreement", help="Flag a gate whose agreement with reviewers is below this."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compare every scoring gate (judge, label check, support) with the human verdicts: agreement, kappa, best threshold."""
    from rich.table import Table

    from ..errors import UsageError
    from ..review.calibrate import calibrate, threshold_text

    if not 0 <= min_agreement <= 1:
        raise UsageError(f"--min-agreement must be between 0 and 1 (got {min_agreement})")
    cal = calibrate(run_dir, min_agreement)
    if cal["reviewed"] == 0:
        raise UsageError(f"{run_dir}: no accept/reject verdicts in this run yet; "
                         f"give some with `synthloom review {run_dir}` first")
    if as_json:
        out.print_json(json.dumps(cal))
        return
    out.print(f"{cal['reviewed']} human verdicts ({cal['human_accepted']} accept)", highlight=False)
    if not cal["gates"]:
        out.print("no reviewed record carries a gate score: nothing to calibrate")
        return
    t = Table("gate", "n", "agreement", "kappa", "pass: accept/reject", "fail: accept/reject")
    for name, g in cal["gates"].items():
        c = g["confusion"]
        t.add_row(name + (" (flagged)" if g["flagged"] else ""), str(g["n"]),
                  "—" if g["agreement"] is None else f"{g['agreement']:.0%}",
                  "—" if g["kappa"] is None else f"{g['kappa']:.2f}",
                  f"{c['pass_accept']} / {c['pass_reject']}", f"{c['fail_accept']} / {c['fail_reject']}")
    out.print(t)
    for name, g in cal["gates"].items():
        now = f">= {g['threshold']:g}" if g["kind"] == "score" else "as is"
        out.print(f"{name}: now {now} keeps {g['kept_now']} of {g['candidates']}; best match with reviewers: "
                  f"{threshold_text(name, g)}", highlight=False)
    flagged = [k for k, g in cal["gates"].items() if g["flagged"]]
    if flagged:
        out.print(f"flagged (agreement below {min_agreement:.0%}): {', '.join(flagged)}", highlight=False)
    if cal["note"]:
        out.print(f"note: {cal['note']}", highlight=False)
