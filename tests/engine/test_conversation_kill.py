"""kill -9 in the middle of a conversation (a real CLI run against a loopback server), then run again:
every conversation finishes with its turns once each, and the finished turns are not asked again."""
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

HELPERS = Path(__file__).parents[1] / "helpers"
SCENARIOS = [{"goal": "rent a city bike for Saturday morning", "persona": "a tourist"},
             {"goal": "find out whether a helmet is included", "persona": "a parent"}]


def count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_mid_conversation_then_resume(tmp_path):
    port_file = tmp_path / "port"
    server = subprocess.Popen([sys.executable, str(HELPERS / "dialogue_server.py"), "--port-file", str(port_file),
                               "--latency-ms", "120"])
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        (tmp_path / "sc.json").write_text(json.dumps(SCENARIOS))
        out = tmp_path / "conv"
        cmd = [sys.executable, "-m", "synthloom", "generate", "conversation", "--scenarios", str(tmp_path / "sc.json"),
               "--system", "You are the assistant of a bike rental shop.", "--turns", "6", "-n", "4",
               "--min-relevance", "-1", "-o", str(out), "--backend", "openai", "--base-url", url + "/v1",
               "--model", "stub"]
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}
        db = out / "store.sqlite"
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # one conversation is 6 calls: kill when the second is half-way (9 calls stored, one record)
        deadline = time.monotonic() + 90
        while count(db, "calls") < 9 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        calls_before, records_before = count(db, "calls"), count(db, "records")
        assert 9 <= calls_before < 24 and records_before < 4

        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
        assert len(rows) == 4
        for r in rows:
            turns = [m for m in r["messages"] if m["role"] != "system"]
            assert [m["role"] for m in turns] == ["user", "assistant"] * 3
            assert len({m["content"] for m in turns}) == 6  # no turn doubled
        assert count(db, "records") == 4
        with urllib.request.urlopen(url + "/stats") as resp:
            stats = json.load(resp)
        # 24 turns in all; only the call in flight at the kill may have been asked twice
        assert stats["repeats"] <= 1 and stats["requests"] <= 24 + 1
    finally:
        server.kill()
        server.wait()


def test_kill_9_mid_simulation_then_resume(tmp_path):
    """`synthloom simulate` with the user and the target both on the loopback stub: killed in the middle of a
    conversation, run again, every conversation graded once with its turns once each."""
    port_file = tmp_path / "port"
    server = subprocess.Popen([sys.executable, str(HELPERS / "dialogue_server.py"), "--port-file", str(port_file),
                               "--latency-ms", "120"])
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        (tmp_path / "sc.json").write_text(json.dumps(SCENARIOS))
        out = tmp_path / "sim"
        cmd = [sys.executable, "-m", "synthloom", "simulate", "--scenarios", str(tmp_path / "sc.json"),
               "--target-base-url", url + "/v1", "--target-model", "stub", "--turns", "6", "-n", "4",
               "--min-relevance", "-1", "-o", str(out), "--user-backend", "openai", "--user-base-url", url + "/v1",
               "--user-model", "user", "--user-api-key-env", "STUB_KEY"]
        env = {**os.environ, "STUB_KEY": "sk-test-not-a-real-key"}
        db = out / "store.sqlite"
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 90
        while count(db, "calls") < 9 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert count(db, "records") < 4

        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert [r["conversation"] for r in rows] == [0, 1, 2, 3]
        for r in rows:
            assert [m["role"] for m in r["messages"]] == ["user", "assistant"] * 3
            assert len({m["content"] for m in r["messages"]}) == 6
            assert r["end_reason"] == "turn_limit" and r["goal_reached"] is False
        assert count(db, "records") == 4
        with urllib.request.urlopen(url + "/stats") as resp:
            stats = json.load(resp)
        assert stats["repeats"] <= 1 and stats["requests"] <= 24 + 1
    finally:
        server.kill()
        server.wait()
