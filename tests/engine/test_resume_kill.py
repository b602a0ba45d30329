"""kill -9 in the middle of a real CLI run, then run again: the job finishes without
repeating a finished call and without losing or duplicating an accepted record."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from servers import record_server as start_record_server

HERE = Path(__file__).parent
SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}, "priority": {"type": "integer"}},
          "required": ["subject", "priority"]}


@pytest.fixture()
def record_server(tmp_path):
    with start_record_server(tmp_path, "--latency-ms", "60") as url:
        yield url


def stats(url):
    with urllib.request.urlopen(url + "/stats") as r:
        return json.load(r)


def accepted_in_store(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_then_resume(tmp_path, record_server):
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
    out = tmp_path / "tickets.jsonl"
    cmd = [sys.executable, "-m", "synthloom", "generate", "schema", "--schema", str(tmp_path / "s.json"),
           "-n", "60", "-o", str(out), "--concurrency", "4", "--backend", "openai",
           "--base-url", record_server + "/v1", "--model", "tickets"]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}
    db = tmp_path / "tickets.run" / "store.sqlite"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while accepted_in_store(db) < 15 and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = accepted_in_store(db)
    assert 15 <= before < 60
    assert not out.exists()  # nothing half-written at the output path
    first_requests = stats(record_server)["requests"]

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 60
    assert len({r["subject"] for r in rows}) == 60  # nothing duplicated
    assert accepted_in_store(db) == 60
    s = stats(record_server)
    # only the calls in flight at the kill (at most the concurrency) may be asked again
    assert s["repeats"] <= 4
    assert s["requests"] - first_requests <= 60 - before + 4 + 4
    assert "sk-test-not-a-real-key" not in done.stdout + done.stderr
    assert b"sk-test-not-a-real-key" not in db.read_bytes()

    # a third run finishes at once from the store and the cache: no new request
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0
    assert stats(record_server)["requests"] == s["requests"]
