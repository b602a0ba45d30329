"""`synthloom export` of a 10k-1M record run: seconds and peak RSS, one fresh process per export.

    nice -n 10 .venv/bin/python benchmarks/export_scale.py -n 10000 100000 --formats openai parquet hf
    nice -n 10 .venv/bin/python benchmarks/export_scale.py -n 10000 --src /path/to/old/src   # another tree's code

The run is written once per size with the store API (no model, no engine: the export reads only the
store): N records {instruction, input, output, label}, instructions of 12 words drawn from 1,600, every
20th a near copy of an earlier one (one word added). Each export splits 0.8,0.1,0.1 with the default
near-duplicate grouping and a system prompt. Peak RSS is the child's getrusage maximum (as
/usr/bin/time -v reports it; the run is built in another process, as a child's figure starts at its
parent's RSS); "RSS before" is the same after the imports, before the export. Prints one
markdown table row per export (results: docs/benchmarks_scale.md, "Exports"). With several --src
trees the exports alternate between them for each size and format (paired under the same load).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def usage() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"rss_mib": round(r.ru_maxrss / 1024, 1), "cpu_s": round(r.ru_utime + r.ru_stime, 2)}


def child(a) -> None:
    from synthloom.export.dataset import export_run

    if a.fmt in ("parquet", "hf"):
        import pyarrow.parquet  # noqa: F401  imported before the clock and the RSS-before figure
    if a.fmt == "hf":
        import datasets  # noqa: F401
    before = usage()
    t = time.perf_counter()
    s = export_run(a.run, a.fmt, a.out, split="0.8,0.1,0.1", system="You are helpful.")
    wall, u = time.perf_counter() - t, usage()
    print(json.dumps({"counts": s.counts, "wall_s": round(wall, 2), "cpu_s": round(u["cpu_s"] - before["cpu_s"], 2),
                      "rss_before_mib": before["rss_mib"], "rss_mib": u["rss_mib"]}))


def build(run: Path, n: int) -> None:
    """The run, made in a process of its own: a child inherits its parent's peak RSS (Linux keeps the
    high-water mark of the memory a process had at fork across exec), so this process stays small."""
    if not (run / "store.sqlite").is_file():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from run_store import make_store; "
                        f"make_store(Path({str(run)!r}), {n}, near_copies=20)"], check=True,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests" / "export")])})
        print(f"<!-- built {n:,} records in {time.perf_counter() - t:.1f} s -->", flush=True)


def bench(a) -> None:
    work = Path(a.work or tempfile.mkdtemp(prefix="synthloom-export-"))
    srcs = a.src or [str(ROOT / "src")]
    print("| records | format | code | wall s | CPU s | peak RSS MiB | RSS before MiB | output MiB | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in a.n:
        run = work / f"run-{n}"
        build(run, n)
        for fmt in a.formats:
            for src in srcs:
                out = work / f"out-{n}-{fmt}"
                subprocess.run(["rm", "-rf", str(out)], check=True)
                load = os.getloadavg()[0]
                p = subprocess.run([sys.executable, __file__, "child", "--run", str(run), "--fmt", fmt, "--out", str(out)],
                                   capture_output=True, text=True, env={**os.environ, "PYTHONPATH": src},
                                   timeout=a.timeout)
                if p.returncode != 0:
                    print(f"| {n:,} | {fmt} | {Path(src).parent.name} | failed: {p.stderr.strip().splitlines()[-1:]} |")
                    continue
                r = json.loads(p.stdout.strip().splitlines()[-1])
                assert sum(r["counts"].values()) == n, r
                size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
                print(f"| {n:,} | {fmt} | {Path(src).parent.name} | {r['wall_s']} | {r['cpu_s']} | {r['rss_mib']} "
                      f"| {r['rss_before_mib']} | {size:.1f} | {load:.1f} |", flush=True)
                subprocess.run(["rm", "-rf", str(out)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    c = sub.add_parser("child")
    c.add_argument("--run", required=True)
    c.add_argument("--fmt", required=True)
    c.add_argument("--out", required=True)
    ap.add_argument("-n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--formats", nargs="+", default=["openai", "parquet", "hf"])
    ap.add_argument("--src", nargs="+", help="source trees to compare (default: this checkout's src)")
    ap.add_argument("--work", help="folder for the runs (kept: a later call reuses a run of the same size)")
    ap.add_argument("--timeout", type=int, default=3600)
    a = ap.parse_args()
    child(a) if a.cmd == "child" else bench(a)


if __name__ == "__main__":
    main()
