"""`synthloom filter | judge | label-check FILE --executor ray`: the same kept and rejected records as the
local command (a deterministic verdict server for the LLM gates), shards for a folder output, and the
clear errors the local command gives."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom.cli import app

pytestmark = pytest.mark.ray
HELPERS = Path(__file__).parent.parent / "helpers"
WORDS = "refund invoice charge card plan renewal account billing payment order customer support month".split()


def make_file(path: Path, n: int = 120) -> list[dict]:
    """Records each filter rule rejects, spread through the file (so through every block), and good ones."""
    rng = random.Random(3)
    rows = []
    for i in range(n):
        kind = ("ok", "ok", "short", "blacklist", "refusal", "loop")[i % 6]
        text = {"ok": " ".join(rng.choice(WORDS) for _ in range(12)) + f" ticket {i}", "short": "thanks",
                "blacklist": f"my lottery win of {i} dollars, please send the " + " ".join(rng.sample(WORDS, 5)),
                "refusal": "I'm sorry, but as an AI language model I cannot help with that request.",
                "loop": " ".join(["buy now"] * 20)}[kind]
        rows.append({"id": i, "text": text, "label": ("billing", "account", "other")[i % 3]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")  # a blank line at the end, as editors leave
    return rows


def invoke(*args: str) -> str:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def start_server(tmp_path_factory, latency_ms: float = 0):
    port_file = tmp_path_factory.mktemp("srv") / "port"
    proc = subprocess.Popen([sys.executable, str(HELPERS / "verdict_server.py"), "--port-file", str(port_file),
                             "--latency-ms", str(latency_ms)])
    for _ in range(200):
        if port_file.exists() and port_file.read_text():
            break
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


@pytest.fixture(scope="module")
def verdict_server(tmp_path_factory):
    proc, url = start_server(tmp_path_factory)
    yield url
    proc.kill()
    proc.wait()


def asked(url: str) -> int:
    with urllib.request.urlopen(url + "/stats") as r:
        return json.load(r)["requests"]


def test_filter_on_ray_equals_local_and_writes_shards(tmp_path, ray_cluster):
    make_file(tmp_path / "in.jsonl")
    flags = ["--field", "text", "--min-words", "3", "--blacklist", "lottery"]
    local = invoke("filter", tmp_path / "in.jsonl", "-o", tmp_path / "local.jsonl", "--rejected", tmp_path / "lr.jsonl",
                   *flags)
    # an (empty) folder as output: shards written by the workers; the rejected ones into one file, in order
    (tmp_path / "shards").mkdir()
    ray = invoke("filter", tmp_path / "in.jsonl", "-o", tmp_path / "shards", "--rejected", tmp_path / "rr.jsonl",
                 *flags, "--executor", "ray")
    kept = (tmp_path / "local.jsonl").read_text().splitlines()
    ids = [json.loads(x)["id"] for x in kept]
    assert ids == [i for i in range(120) if i % 6 in (0, 1)]  # exactly the good records
    shards = sorted((tmp_path / "shards").glob("*.jsonl"))
    assert len(shards) >= 2
    assert sorted(x for s in shards for x in s.read_text().splitlines()) == sorted(kept)  # the same lines
    assert (tmp_path / "rr.jsonl").read_text() == (tmp_path / "lr.jsonl").read_text()  # same bytes, same order
    summary = "read 120  kept 40  rejected 80 (too_short 20, blacklist 20, refusal 20, repeated_ngrams 20)"
    assert summary in local and summary in ray and "ray) ->" in ray
    assert "INFO" not in ray


def test_judge_and_label_check_on_ray_equal_local(tmp_path, ray_cluster, verdict_server):
    make_file(tmp_path / "in.jsonl", 48)
    model = ["--backend", "openai", "--base-url", verdict_server + "/v1", "--model", "verdicts"]
    judge = ["--field", "text", "--threshold", "3", *model]
    invoke("judge", tmp_path / "in.jsonl", "-o", tmp_path / "jl.jsonl", "--rejected", tmp_path / "jlr.jsonl", *judge)
    before = asked(verdict_server)
    out = invoke("judge", tmp_path / "in.jsonl", "-o", tmp_path / "jr.jsonl", "--rejected", tmp_path / "jrr.jsonl",
                 *judge, "--executor", "ray")
    assert asked(verdict_server) - before == 48  # one call per record, spread over the workers
    local = (tmp_path / "jl.jsonl").read_text()
    assert (tmp_path / "jr.jsonl").read_text() == local  # same kept set, scores and rationales
    assert (tmp_path / "jrr.jsonl").read_text() == (tmp_path / "jlr.jsonl").read_text()
    kept = [json.loads(x) for x in local.splitlines()]
    assert 10 < len(kept) < 40 and all(r["_scores"]["judge"] >= 3 for r in kept)
    assert f"kept {len(kept)}  rejected {48 - len(kept)} (low_score {48 - len(kept)})" in out

    label = ["--labels", "billing,account,other", *model]
    invoke("label-check", tmp_path / "in.jsonl", "-o", tmp_path / "ll.jsonl", *label)
    invoke("label-check", tmp_path / "in.jsonl", "-o", tmp_path / "lr.parquet", *label, "--executor", "ray")
    local = [json.loads(x) for x in (tmp_path / "ll.jsonl").read_text().splitlines()]
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "lr.parquet").to_pylist() == local  # one Parquet file, the same rows in order
    assert 5 < len(local) < 40  # the checker agreed with some labels, not all


def test_ray_gates_give_the_local_errors(tmp_path, ray_cluster, monkeypatch):
    make_file(tmp_path / "in.jsonl", 12)
    bad = tmp_path / "bad.jsonl"
    bad.write_text((tmp_path / "in.jsonl").read_text() + '{"id": 99, "text": oops}\n')
    local = CliRunner().invoke(app, ["filter", str(bad), "-o", str(tmp_path / "o.jsonl")])
    r = CliRunner().invoke(app, ["filter", str(bad), "-o", str(tmp_path / "o.jsonl"), "--executor", "ray"])
    assert r.exit_code == 2 and r.output == local.output  # the file, the line and the fix
    assert f"{bad}:14: not valid JSON" in r.output
    assert not (tmp_path / "o.jsonl").exists()  # nothing half-written

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.jsonl").write_text("{}\n")
    r = CliRunner().invoke(app, ["filter", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "full"), "--executor", "ray"])
    assert r.exit_code == 2 and "folder is not empty" in r.output

    r = CliRunner().invoke(app, ["filter", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                                 "--executor", "spark"])
    assert r.exit_code == 2 and "--executor must be local or ray" in r.output

    monkeypatch.setitem(sys.modules, "ray", None)  # the extra not installed: the dedup command's message
    r = CliRunner().invoke(app, ["judge", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                                 "--executor", "ray"])
    assert r.exit_code == 2 and "pip install 'synthloom[ray]'" in r.output
    assert not (tmp_path / "o.jsonl").exists()


def gate_actor_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"MapWorker(MapBatches(GateWorker))" in (proc / "cmdline").read_bytes() \
                    and " Z " not in (proc / "stat").read_text():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_a_killed_ray_worker_loses_no_record(tmp_path, tmp_path_factory, ray_cluster):
    import os
    import signal
    import threading

    make_file(tmp_path / "in.jsonl", 48)
    proc, url = start_server(tmp_path_factory, latency_ms=150)
    try:
        model = ["--backend", "openai", "--base-url", url + "/v1", "--model", "verdicts", "--concurrency", "2"]
        invoke("judge", tmp_path / "in.jsonl", "-o", tmp_path / "local.jsonl", *model)
        killed = []

        def kill_one():  # once the workers are judging, SIGKILL one of them
            start = asked(url)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                pids = gate_actor_pids()
                if pids and asked(url) - start >= 8:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                time.sleep(0.1)

        t = threading.Thread(target=kill_one, daemon=True)
        t.start()
        out = invoke("judge", tmp_path / "in.jsonl", "-o", tmp_path / "ray.jsonl", *model, "--executor", "ray")
        t.join(5)
        assert killed, "the run ended before a worker could be killed"
        # Ray Data restarts the actor and redoes its block: the same records, none lost or doubled
        assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
        assert "read 48" in out
    finally:
        proc.kill()
        proc.wait()
