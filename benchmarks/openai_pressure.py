"""The `openai` backend under pressure: overhead of adaptive concurrency, a server that 429s, scale.

Three measurements, each printed as a markdown table (results: docs/benchmarks_cost.md):

  overhead  the whole path (benchmarks/engine_overhead.py) against the peers' stub at 0 ms and
            100 ms, next to the bare aiohttp loop (../shared/bench/peers/run_baseline.py), rounds
            interleaved; with --compare-src, also the same runner on another source tree (e.g. main)
  pressure  the whole path against a server that answers 429 (+ Retry-After) beyond `capacity`
            requests in flight: records/s and how many 429s it took, per source tree
  scale     the whole path at N = 10,000 and 100,000 records against the 0 ms stub: records/s and
            the peak RSS of the process (/usr/bin/time -v)

    python benchmarks/openai_pressure.py --stub-python /path/to/venv-with-uvicorn/bin/python \\
        --compare-src ../main/src --rounds 3 overhead pressure scale
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT.parent.parent / "shared" / "bench" / "peers"  # /work/shared/bench/peers from /work/wt/<name>
if not PEERS.exists():
    PEERS = ROOT.parent / "shared" / "bench" / "peers"
RESULT = re.compile(r"rps=([0-9.]+)")
CPU = re.compile(r"cpu_us_per_record=([0-9.]+)")


def start(cmd: list[str], port_file: Path, env=None) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text().strip())
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server did not start: {' '.join(cmd)}")


def run(cmd: list[str], env=None) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return res.stdout + res.stderr


def engine_cmd(src: str, port: int, n: int, c: int) -> tuple[list[str], dict]:
    env = {**os.environ, "PYTHONPATH": src}
    return [sys.executable, str(ROOT / "benchmarks" / "engine_overhead.py"), "--port", str(port),
            "-n", str(n), "-c", str(c)], env


def rps(text: str) -> float:
    m = RESULT.search(text)
    return float(m.group(1)) if m else float("nan")


# -- a server that is overloaded beyond `capacity` in flight (subprocess mode of this script) ----------

def serve_busy(port_file: str, capacity: int, retry_after: float, latency: float) -> None:
    from aiohttp import web

    state = {"in_flight": 0, "served": 0, "refused": 0}

    async def completions(request: web.Request) -> web.Response:
        await request.read()
        state["in_flight"] += 1
        try:
            if state["in_flight"] > capacity:
                state["refused"] += 1
                return web.json_response({"error": {"message": "rate limited"}}, status=429,
                                         headers={"Retry-After": f"{retry_after:g}"})
            await asyncio.sleep(latency)
            state["served"] += 1
            return web.json_response({"object": "chat.completion", "usage": {"prompt_tokens": 12, "completion_tokens": 14},
                                      "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                          "role": "assistant", "content": json.dumps({"text": "A sturdy product."})}}]})
        finally:
            state["in_flight"] -= 1

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(state)

    import socket

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/stats", stats)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    Path(port_file).write_text(str(sock.getsockname()[1]))
    web.run_app(app, sock=sock, print=None, access_log=None)


def busy_stats(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats") as r:
        return json.load(r)


# -- the three measurements ------------------------------------------------------------------------------

def overhead(a, srcs: dict[str, str], tmp: Path) -> None:
    procs, ports = [], {}
    for lat in (0, 100):
        pf = tmp / f"port{lat}"
        p, ports[lat] = start([a.stub_python, str(PEERS / "stub_server.py"), "--latency-ms", str(lat),
                               "--port-file", str(pf)], pf)
        procs.append(p)
    rows: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    try:
        for r in range(a.rounds):
            for lat, n in ((0, a.n0), (100, a.n100)):
                out = run([sys.executable, str(PEERS / "run_baseline.py"), "--client", "aiohttp", "--port",
                           str(ports[lat]), "-n", str(n), "-c", str(a.c)])
                rows.setdefault(("bare aiohttp loop", lat), []).append(rps(out))
                for name, src in srcs.items():
                    cmd, env = engine_cmd(src, ports[lat], n, a.c)
                    out = run(cmd, env)
                    rows.setdefault((f"synthloom ({name})", lat), []).append(rps(out))
                    m = CPU.search(out)
                    cpu.setdefault((f"synthloom ({name})", lat), []).append(float(m.group(1)) if m else float("nan"))
                print(f"round {r + 1}: " + ", ".join(f"{k[0]}@{k[1]}ms {v[-1]:.0f}" for k, v in rows.items()
                                                   if k[1] == lat), file=sys.stderr)
    finally:
        for p in procs:
            p.kill()
    print(f"\n### overhead (c={a.c}, N={a.n0} at 0 ms, {a.n100} at 100 ms, {a.rounds} rounds interleaved)\n")
    print("| runner | latency ms | records/s per round | median | x bare loop (median of per-round ratios) "
          "| CPU us per record (median) |")
    print("|---|---|---|---|---|---|")
    for (name, lat), vals in rows.items():
        base = rows[("bare aiohttp loop", lat)]
        ratios = [v / b for v, b in zip(vals, base)]
        c = cpu.get((name, lat))
        print(f"| {name} | {lat} | {', '.join(f'{v:.0f}' for v in vals)} | {statistics.median(vals):.0f} | "
              f"{statistics.median(ratios):.3f} | {statistics.median(c):.0f} |" if c else
              f"| {name} | {lat} | {', '.join(f'{v:.0f}' for v in vals)} | {statistics.median(vals):.0f} | "
              f"{statistics.median(ratios):.3f} | |")


def pressure(a, srcs: dict[str, str], tmp: Path) -> None:
    print(f"\n### pressure (server takes {a.capacity} in flight, 429 + Retry-After {a.retry_after:g} s beyond; "
          f"{a.latency_ms:g} ms per answer; c={a.c}; N={a.n_pressure})\n")
    print("| runner | records/s | 429s answered | 429s per record |")
    print("|---|---|---|---|")
    for name, src in srcs.items():
        pf = tmp / f"busy-{name}"
        p, port = start([sys.executable, __file__, "serve-busy", "--port-file", str(pf), "--capacity", str(a.capacity),
                         "--retry-after", str(a.retry_after), "--latency-ms", str(a.latency_ms)], pf)
        try:
            cmd, env = engine_cmd(src, port, a.n_pressure, a.c)
            r = rps(run(cmd, env))
            s = busy_stats(port)
        finally:
            p.kill()
        print(f"| synthloom ({name}) | {r:.0f} | {s['refused']} | {s['refused'] / max(s['served'], 1):.2f} |")


def scale(a, srcs: dict[str, str], tmp: Path) -> None:
    pf = tmp / "port-scale"
    p, port = start([a.stub_python, str(PEERS / "stub_server.py"), "--latency-ms", "0", "--port-file", str(pf)], pf)
    name, src = next(iter(srcs.items()))
    print(f"\n### scale (synthloom ({name}), 0 ms stub, c={a.c})\n")
    print("| records | wall s | records/s | CPU us per record | peak RSS MiB |")
    print("|---|---|---|---|---|")
    try:
        for n in a.scale:
            cmd, env = engine_cmd(src, port, n, a.c)
            out = run(["/usr/bin/time", "-v", *cmd], env)
            rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out).group(1)) / 1024
            wall = float(re.search(r"wall=([0-9.]+)", out).group(1))
            cpu = CPU.search(out)
            print(f"| {n:,} | {wall:.1f} | {rps(out):.0f} | {cpu.group(1) if cpu else '?'} | {rss:.0f} |", flush=True)
    finally:
        p.kill()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve-busy":
        ap = argparse.ArgumentParser()
        ap.add_argument("serve-busy")
        ap.add_argument("--port-file", required=True)
        ap.add_argument("--capacity", type=int, default=8)
        ap.add_argument("--retry-after", type=float, default=0.2)
        ap.add_argument("--latency-ms", type=float, default=20)
        b = ap.parse_args()
        serve_busy(b.port_file, b.capacity, b.retry_after, b.latency_ms / 1000)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="+", choices=["overhead", "pressure", "scale"])
    ap.add_argument("--stub-python", default=sys.executable, help="a python with uvicorn, uvloop and httptools")
    ap.add_argument("--compare-src", default=None, help="another src/ tree to run side by side (e.g. main's)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-c", type=int, default=64)
    ap.add_argument("--n0", type=int, default=2000)
    ap.add_argument("--n100", type=int, default=1000)
    ap.add_argument("--n-pressure", type=int, default=1000)
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--retry-after", type=float, default=0.2)
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--scale", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000])
    a = ap.parse_args()
    srcs = {"this tree": str(ROOT / "src")}
    if a.compare_src:
        srcs["compare"] = str(Path(a.compare_src).resolve())
    with tempfile.TemporaryDirectory(prefix="synthloom-pressure-") as tmp:
        for what in a.what:
            {"overhead": overhead, "pressure": pressure, "scale": scale}[what](a, srcs, Path(tmp))


if __name__ == "__main__":
    main()
