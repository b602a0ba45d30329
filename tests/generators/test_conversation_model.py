"""Conversations on the bundled model: `generate conversation` end to end in process, and `synthloom simulate`
with the bundled model as the simulated user against the bundled model served over HTTP on loopback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.llama_server import llama_server  # noqa: F401  (fixture)
from synthloom import RunStore, run_recipe
from synthloom.engine.recipe_file import recipe_from_dict

pytestmark = [pytest.mark.model, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).parents[2] / "examples"
ENDS = {"goal_met", "give_up", "turn_limit", "stuck"}


def test_conversation_on_the_bundled_model(tmp_path):
    rec = recipe_from_dict({
        "name": "conv", "count": 1,
        "generate": {"technique": "conversation", "system": "You are the assistant of a bike rental shop.",
                     "scenarios": [{"goal": "find out whether a helmet is included in the rental price",
                                    "persona": "a parent", "mood": "careful"}],
                     "turns": 2, "tries": 2, "sampling": {"temperature": 0.7, "max_tokens": 60},
                     "user_sampling": {"temperature": 0.8, "max_tokens": 60}},
        "engine": {"concurrency": 1, "max_attempts": 2, "seed": 1}}, "test")
    summary = run_recipe(rec, base_dir=tmp_path, output=tmp_path / "out")
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), list(s.rejections())
    assert summary.calls >= 2  # a user turn and an assistant turn at least
    for r in accepted:
        msgs = r.data["messages"]
        assert msgs[0]["role"] == "system" and [m["role"] for m in msgs[1:]] == ["user", "assistant"]
        assert r.data["end_reason"] in ENDS and all("gemma" in m.lower() for m in r.meta["turn_models"])
    for r in rejected:  # every rejected try names a check
        assert r.reason.split(":")[0] in ("turn", "conversation", "dedup"), r.reason


def test_simulate_against_the_bundled_model_over_http(tmp_path, llama_server):  # noqa: F811
    out = tmp_path / "sim"
    cmd = [sys.executable, "-m", "synthloom", "simulate", "--scenarios",
           str(EXAMPLES / "conversations" / "scenarios.yaml"), "--target-base-url", llama_server,
           "--target-model", "gemma3-270m", "--system-prompt", str(EXAMPLES / "conversations" / "bike-rental-system.md"),
           "-n", "1", "--turns", "2", "--max-tokens", "40", "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert row["end_reason"] in {"goal_met", "give_up", "turn_limit", "user_stuck", "target_error"}
    assert isinstance(row["goal_reached"], bool) and row["turns_used"] == len(row["messages"])
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * (len(row["messages"]) // 2) \
        + (["user"] if len(row["messages"]) % 2 else [])
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["overall"]["conversations"] == 1
    assert "Goal reached in" in (out / "report.md").read_text()
    # every turn of the target is in the run store's call cache
    with RunStore(out / "store.sqlite") as s:
        assert s.accepted_records()
