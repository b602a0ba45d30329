"""`synthloom filter | judge FILE --executor ray` against the local command, on one file.

    python benchmarks/ray_gates.py filter --records 20000          # heuristic filters, no model
    python benchmarks/ray_gates.py judge  --records 2000           # judge on a 0 ms verdict server
    python benchmarks/ray_gates.py judge-model --records 16        # judge on the bundled model (n_threads 1 each)

One local Ray cluster (num_cpus=2) is started first and its start time printed (a user with a running
cluster does not pay it). Each measurement runs the whole command in-process (read, gates, write), as a
user runs it; the Ray runs include starting their actors (and, on the model, each loading the GGUF).
Checks that every Ray output (kept and rejected files) equals the local one, byte for byte. Prints one JSON line per measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = ("invoice refund charge card plan renewal account billing payment order customer support team month "
         "twice cancel upgrade discount receipt balance").split()


def make_file(path: Path, n: int) -> None:
    rng = random.Random(7)
    with path.open("w") as f:
        for i in range(n):
            k = rng.random()
            text = ("thanks" if k < 0.1 else "I'm sorry, but as an AI language model I cannot help with that."
                    if k < 0.2 else " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))))
            f.write(json.dumps({"id": i, "text": text}) + "\n")


def cli(*args: str) -> tuple[float, str]:
    from typer.testing import CliRunner

    from synthloom.cli import app

    t = time.perf_counter()
    r = CliRunner().invoke(app, [str(a) for a in args])
    wall = time.perf_counter() - t
    if r.exit_code != 0:
        raise SystemExit(r.output)
    return wall, r.output.strip().splitlines()[-1]


def ray_run(inp: Path, out: Path, cfg: dict, workers: int, model: dict | None = None, concurrency: int = 4,
            rejected: Path | None = None) -> float:
    from pydantic import TypeAdapter

    from synthloom.config.quality import GateConfig
    from synthloom.engine.ray_gates import ray_gate_file

    t = time.perf_counter()
    ray_gate_file(inp, out, [TypeAdapter(GateConfig).validate_python(cfg)], model=model, workers=workers,
                  concurrency=concurrency, rejected=rejected)
    return time.perf_counter() - t


def start_cluster() -> None:
    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(json.dumps({"what": "ray cluster start", "s": round(time.perf_counter() - t, 2)}), flush=True)


def report(what: str, label: str, n: int, wall: float, same: bool | None = None) -> None:
    print(json.dumps({"what": what, "executor": label, "records": n, "wall_s": round(wall, 2),
                      "records_per_s": round(n / wall, 1), **({} if same is None else {"same_as_local": same}),
                      "load": os.getloadavg()[0]}), flush=True)


def bench(mode: str, n: int, tmp: Path) -> None:
    inp = tmp / "in.jsonl"
    make_file(inp, n)
    port_proc = None
    if mode == "filter":
        cfg = {"gate": "filter", "fields": ["text"], "min_words": 3}
        flags, model, conc = ["--field", "text", "--min-words", "3"], None, [(4, "")]
        cmd = "filter"
    else:
        if mode == "judge":
            port_file = tmp / "port"
            port_proc = subprocess.Popen([sys.executable, str(HERE.parent / "tests/helpers/verdict_server.py"),
                                          "--port-file", str(port_file)])
            while not (port_file.exists() and port_file.read_text()):
                time.sleep(0.05)
            model = {"backend": "openai", "base_url": f"http://127.0.0.1:{port_file.read_text()}/v1",
                     "model": "verdicts", "api_key_env": None}
            flags = ["--backend", "openai", "--base-url", model["base_url"], "--model", "verdicts"]
            conc = [(16, "c=16")]
        else:
            model = {"backend": "llamacpp", "n_threads": 1}  # the CLI's default on 2 cores is 1 thread too
            flags = []
            conc = [(2, "c=2")]
        cfg = {"gate": "judge", "fields": ["text"], "threshold": 3}
        flags += ["--field", "text", "--threshold", "3"]
        cmd = "judge"
    try:
        for c, tag in conc:
            extra = ["--concurrency", str(c)] if cmd == "judge" else []
            wall, line = cli(cmd, inp, "-o", tmp / "local.jsonl", "--rejected", tmp / "local-rej.jsonl", *flags, *extra)
            report(mode, f"local {tag}".strip(), n, wall)
            print(json.dumps({"local": line}), flush=True)
            want = (tmp / "local.jsonl").read_text(), (tmp / "local-rej.jsonl").read_text()
            for workers in (1, 2):
                out, rej = tmp / f"ray{workers}.jsonl", tmp / f"ray{workers}-rej.jsonl"
                wall = ray_run(inp, out, cfg, workers, model, c, rej)
                report(mode, f"ray, {workers} worker{'s' if workers > 1 else ''} {tag}".strip(), n, wall,
                       (out.read_text(), rej.read_text()) == want)
    finally:
        if port_proc is not None:
            port_proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["filter", "judge", "judge-model"])
    ap.add_argument("--records", type=int, default=2000)
    a = ap.parse_args()
    start_cluster()
    with tempfile.TemporaryDirectory(prefix="synthloom-raygates-") as tmp:
        bench(a.mode, a.records, Path(tmp))


if __name__ == "__main__":
    main()
