"""Runs through a batch API against the loopback stub (tests/helpers/batch_stub.py): the records of the
live run whatever the stub does wrong, unanswered requests asked again with their reason, batch prices
in the cost, the manifest, the report and the estimate, the budget, the live tail, the limits per batch."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.batch_run import batch_stub, recipe, rows, run, stats
from synthloom.engine.api import arun_recipe
from synthloom.engine.estimate import aestimate
from synthloom.export.report import build_report
from synthloom.runs import open_store, read_manifest

LIVE_CALL = (20 * 0.5 + 12 * 2.0) / 1e6  # the stub bills 20 + 12 tokens a call; the recipe's live price


@pytest.fixture(scope="module")
def live_records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    with batch_stub(folder) as url:
        done = run(url, folder / "live.jsonl", api="live")
        assert done.returncode == 0, done.stderr
    return rows(folder / "live.jsonl")


async def batch_run(url: str, out: Path, count: int = 12, api: str = "openai", **kw):
    return await arun_recipe(recipe(url + "/v1", api, count, **kw), output=out)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_failed_expired_unreadable_answers_are_asked_again_with_their_reason(tmp_path, live_records, api):
    with batch_stub(tmp_path, "--fail-every", "3", "--malformed-every", "4", "--expire-first", "1") as url:
        s = await batch_run(url, tmp_path / "b.jsonl", api=api)
        st = stats(url)
    assert s.accepted == 12 and s.stopped_by == "target"
    if api == "openai":
        assert rows(tmp_path / "b.jsonl") == live_records
    assert st["answered"] == 12 and st["repeats"] == 0, st  # each request answered once, none lost
    assert st["batches"] >= 2 and st["submitted"] > 12
    retried = read_manifest(tmp_path / "b.run")["batches"]["retried"]
    assert retried.get("expired", 0) >= 6 and sum(retried.values()) == st["submitted"] - 12, retried


async def test_batch_cost_is_half_and_shows_in_manifest_report_and_estimate(tmp_path):
    with batch_stub(tmp_path) as url:
        s = await batch_run(url, tmp_path / "b.jsonl")
        est = await aestimate(recipe(url + "/v1", "openai", 40), output=tmp_path / "e.jsonl", pilot=10)
    assert s.cost == pytest.approx(12 * LIVE_CALL / 2)
    m = read_manifest(tmp_path / "b.run")
    batch_model = next(k for k in m["cost"]["by_model"])
    assert batch_model.endswith("#m@openai-batch") and m["cost"]["total"] == pytest.approx(12 * LIVE_CALL / 2)
    assert m["batches"]["batches"] == 1 and m["batches"]["by_state"] == {"collected": 1}
    report = build_report(tmp_path / "b.run", embedder=None)
    assert report["cost"]["money"]["total"] == pytest.approx(12 * LIVE_CALL / 2)
    assert report["cost"]["batches"]["by_state"] == {"collected": 1}
    from synthloom.export.report_md import render_markdown

    md = render_markdown(report)
    assert "@openai-batch" in md and "Batch API: 1 batch(es) of 12 requests in all (1 collected)." in md
    live, lo, hi = est.cost_modes["live"]
    batch = est.cost_modes["batch"][0]
    assert live == pytest.approx(40 * LIVE_CALL) and batch == pytest.approx(live / 2)
    assert est.batch_seconds and max(est.batch_seconds) < 30


async def test_declared_batch_prices_are_used(tmp_path):
    with batch_stub(tmp_path) as url:
        s = await batch_run(url, tmp_path / "b.jsonl", model_extra={
            "price": {"input": 0.5, "output": 2.0, "batch_input": 0.1, "batch_output": 0.2}})
    assert s.cost == pytest.approx(12 * (20 * 0.1 + 12 * 0.2) / 1e6)


async def test_max_cost_holds_no_batch_is_submitted_that_could_cross_it(tmp_path):
    budget = 0.0004  # at batch prices a call costs 17 micro-dollars, its worst case about 70
    with batch_stub(tmp_path) as url:
        s = await batch_run(url, tmp_path / "b.jsonl", count=40, engine_extra={"max_cost": budget})
        st = stats(url)
    assert s.stopped_by == "max_cost" and not s.complete
    assert st["submitted"] * LIVE_CALL / 2 <= budget and s.cost <= budget
    assert s.accepted == st["answered"] > 0


async def test_requests_and_bytes_per_batch_are_limited(tmp_path, live_records):
    with batch_stub(tmp_path) as url:
        await batch_run(url, tmp_path / "b.jsonl", batch_extra={"max_requests": 5})
        st = stats(url)
    assert st["batches"] == 3 and st["submitted"] == 12  # 5 + 5 + 2
    assert rows(tmp_path / "b.jsonl") == live_records
    with batch_stub(tmp_path) as url:
        await batch_run(url, tmp_path / "c.jsonl", batch_extra={"max_bytes": 4000})
        st = stats(url)
    assert st["batches"] >= 3 and st["submitted"] == 12
    with open_store(tmp_path / "c.run") as store:
        from synthloom.runs.batch_log import BatchLog

        assert all(b["bytes"] <= 4000 for b in BatchLog(store).batches())


async def test_the_tail_of_a_run_goes_live_below_batch_api_min(tmp_path):
    with batch_stub(tmp_path, "--invalid-every", "4") as url:
        s = await batch_run(url, tmp_path / "b.jsonl", count=12, model_extra={"batch_api_min": 6})
        st = stats(url)
    assert s.accepted == 12
    # the first batch held every slot; a slot's retry asked while 6 or more records were missing went into a
    # second batch; once fewer were missing, the calls went live
    assert st["live"] >= 1 and st["batches"] <= 2 and st["repeats"] == 0, st
    usage = {u["model"].rsplit("#", 1)[1]: u["calls"] for u in read_manifest(tmp_path / "b.run")["usage"]}
    assert usage["m@openai-batch"] == st["submitted"] and usage["m"] == st["live"]


async def test_a_batch_that_never_ends_is_cancelled_and_its_requests_asked_again(tmp_path, live_records):
    with batch_stub(tmp_path, "--never-finish-first", "1", "--window", "0.3") as url:
        s = await batch_run(url, tmp_path / "b.jsonl", batch_extra={"overdue_s": 0.2})
        st = stats(url)
    assert s.accepted == 12 and rows(tmp_path / "b.jsonl") == live_records
    assert st["batches"] == 2 and st["answered"] == 12
    assert read_manifest(tmp_path / "b.run")["batches"]["retried"] == {"cancelled": 12}


def test_status_shows_the_batches_of_a_run(tmp_path):
    from typer.testing import CliRunner

    from synthloom.cli import app

    with batch_stub(tmp_path) as url:
        killed = run(url, tmp_path / "b.jsonl", "polling")
        assert killed.returncode == -9
        res = CliRunner().invoke(app, ["status", str(tmp_path / "b.run")])
        assert res.exit_code == 0, res.output
        assert "1 submitted" in res.output and "batch_00001" in res.output and "in 24.0 h" in res.output
        assert run(url, tmp_path / "b.jsonl").returncode == 0
    res = CliRunner().invoke(app, ["status", str(tmp_path / "b.run")])
    assert "complete, 12 of 12 records accepted" in res.output and "no batch in flight" in res.output


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_a_create_that_failed_after_making_the_batch_is_adopted_not_sent_again(tmp_path, api):
    with batch_stub(tmp_path, "--fail-batch-create", "1") as url:
        s = await batch_run(url, tmp_path / "b.jsonl", api=api)
        st = stats(url)
    assert s.accepted == 12
    assert st["batches"] == 1 and st["submitted"] == 12 and st["answered"] == 12, st


def test_a_yaml_recipe_with_batch_api_runs_from_the_cli(tmp_path):
    import subprocess
    import sys

    with batch_stub(tmp_path) as url:
        (tmp_path / "r.yaml").write_text(f"""
name: tickets
count: 5
model:
  backend: openai
  base_url: {url}/v1
  model: m
  api_key_env: null
  price: {{input: 0.5, output: 2.0}}
  batch_api: openai
  batch: {{collect_s: 0.3, poll_s: 0.05}}
generate:
  technique: schema
  schema: {{type: object, properties: {{subject: {{type: string}}, priority: {{type: integer}}}},
           required: [subject, priority]}}
  instruction: support tickets
""")
        done = subprocess.run([sys.executable, "-m", "synthloom", "run", str(tmp_path / "r.yaml"), "-o",
                               str(tmp_path / "t.jsonl")], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert stats(url)["batches"] == 1
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 5
    status = subprocess.run([sys.executable, "-m", "synthloom", "status", str(tmp_path / "t.run")],
                            capture_output=True, text=True, timeout=60)
    assert "batches: 1 (1 collected), 5 requests" in status.stdout
