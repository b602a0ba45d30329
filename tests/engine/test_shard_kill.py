"""kill -9 one shard of a sharded run mid-run, run it again: the merge gives exactly the records of an
uninterrupted, unsharded run (nothing lost, nothing doubled)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from servers import record_server as start_record_server

from synthloom.engine.recipe_file import load_recipe
from synthloom.engine.shards import merge_runs
from synthloom.pipeline import run_recipe

SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}, "priority": {"type": "integer"}},
          "required": ["subject", "priority"]}


@pytest.fixture()
def record_server(tmp_path):
    with start_record_server(tmp_path, "--latency-ms", "40") as url:
        yield url


def in_store(db: Path) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.Error:
        return 0


def lines(path: Path) -> list[str]:
    return sorted(path.read_text().splitlines())


def test_kill_9_of_a_shard_then_resume_and_merge(tmp_path, record_server):
    recipe_file = tmp_path / "tickets.yaml"
    recipe_file.write_text(yaml.safe_dump({
        "name": "tickets", "count": 40,
        "model": {"backend": "openai", "base_url": record_server + "/v1", "model": "tickets", "api_key_env": None},
        "generate": {"technique": "schema", "schema": SCHEMA, "instruction": "A support ticket."},
        "quality": [{"gate": "dedup", "method": "exact"}],
        "engine": {"concurrency": 2, "seed": 3}}))
    shard0 = tmp_path / "s0"
    cmd = [sys.executable, "-m", "synthloom", "run", str(recipe_file), "--shard", "0/2", "-o", str(shard0)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while in_store(shard0 / "store.sqlite") < 4 and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = in_store(shard0 / "store.sqlite")
    assert 4 <= killed_at < 20  # killed mid-run: the shard's share is 20
    assert not (shard0 / "data.jsonl").exists()  # nothing half-written

    recipe = load_recipe(recipe_file, {})
    again = run_recipe(recipe, base_dir=tmp_path, output=shard0, shard="0/2")  # the re-run resumes
    assert again.resumed and again.accepted == 20
    run_recipe(recipe, base_dir=tmp_path, output=tmp_path / "s1", shard="1/2")
    merged = merge_runs([shard0, tmp_path / "s1"], tmp_path / "merged.jsonl")
    whole = run_recipe(recipe, base_dir=tmp_path, output=tmp_path / "whole.jsonl")

    assert merged.accepted == whole.accepted == 40 and merged.dropped == []
    got = lines(tmp_path / "merged.jsonl")
    assert got == lines(tmp_path / "whole.jsonl")  # the same 40 records, none lost, none doubled
    assert len(set(got)) == 40
    subjects = [json.loads(x)["subject"] for x in got]
    assert all(s.startswith("Billing ticket ") for s in subjects)
