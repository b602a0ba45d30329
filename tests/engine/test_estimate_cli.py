"""`synthloom estimate` and `synthloom run --estimate` against a real OpenAI-compatible server process."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from servers import record_server as start_record_server
import yaml
from typer.testing import CliRunner

from synthloom.cli import app

HERE = Path(__file__).parent
runner = CliRunner()


@pytest.fixture()
def server(tmp_path):
    with start_record_server(tmp_path, "--latency-ms", "5") as url:
        yield url


def stats(url):
    with urllib.request.urlopen(url + "/stats") as r:
        return json.load(r)


def write_recipe(tmp_path, url, maximum=2, count=30):
    recipe = {
        "name": "tickets", "count": count,
        "model": {"backend": "openai", "base_url": url + "/v1", "model": "tickets", "api_key_env": None,
                  "price": {"input": 2.5, "output": 10.0}},
        "generate": {"technique": "schema", "instruction": "support tickets", "sampling": {"max_tokens": 64},
                     "schema": {"type": "object", "required": ["subject", "priority"],
                                "properties": {"subject": {"type": "string"},
                                               "priority": {"type": "integer", "maximum": maximum}}}},
        "engine": {"concurrency": 4},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_estimate_then_run_continues_from_the_pilot(tmp_path, server):
    path = write_recipe(tmp_path, server)
    out = tmp_path / "tickets.jsonl"
    res = runner.invoke(app, ["estimate", str(path), "-o", str(out), "--pilot", "8"])
    assert res.exit_code == 0, res.output
    assert "attempts made a record that passed the gates" in res.output and "8 kept" in res.output and "projected for 30 records" in res.output
    for row in ("attempts (slots)", "calls", "completion tokens", "cost", "wall time"):
        assert row in res.output
    assert "$0." in res.output  # 20 + 12 tokens a call at $2.50 / $10 per million
    pilot_requests = stats(server)["requests"]
    assert pilot_requests > 0 and not out.exists()  # the pilot writes no dataset, only the run store

    res = runner.invoke(app, ["run", str(path), "-o", str(out), "--estimate", "--pilot", "8"])
    assert res.exit_code == 0, res.output
    assert "projected for 30 records" in res.output and "complete" in res.output and "cost $0." in res.output
    assert len(out.read_text().splitlines()) == 30
    s = stats(server)
    assert s["repeats"] == 0 and s["requests"] > pilot_requests  # nothing asked twice
    manifest = json.loads((tmp_path / "tickets.run" / "manifest.json").read_text())
    assert manifest["cost"]["total"] == pytest.approx(s["requests"] * (20 * 2.5 + 12 * 10.0) / 1e6, abs=1e-6)


def test_estimate_of_a_recipe_that_yields_nothing(tmp_path, server):
    path = write_recipe(tmp_path, server, maximum=0)
    res = runner.invoke(app, ["estimate", str(path), "-o", str(tmp_path / "t.jsonl"), "--pilot", "1"])
    assert res.exit_code == 1, res.output
    assert "cannot project" in res.output and "schema:maximum" in res.output
    assert "ZeroDivision" not in res.output and "Traceback" not in res.output


def test_max_cost_stop_says_which_budget_to_raise(tmp_path, server):
    path = write_recipe(tmp_path, server)
    data = yaml.safe_load(path.read_text())
    data["engine"]["max_cost"] = 0.002
    path.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "t.jsonl")])
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "incomplete (budget: max_cost)" in text and "raise engine.max_cost and run again" in text
    assert "of the engine.max_cost $0.0020 is spent" in text
    # 4 slots in flight, and still the spend stops within one call's worst case (64 tokens out + prompt) of the budget
    cost = json.loads((tmp_path / "t.run" / "manifest.json").read_text())["cost"]["total"]
    assert 0.002 - 0.0008 < cost <= 0.002
