"""kill -9 at every stage of a batch (before upload, after create, while polling, mid-download, after
collecting), then run again: the run ends with the records of an uninterrupted run, no request was
submitted twice and none was lost (the stub counts every request line it receives)."""
from __future__ import annotations

import json

import pytest

from helpers.batch_run import batch_stub, rows, run, stats

STAGES = ["before_upload", "after_create", "polling", "mid_download", "after_collect"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The records of an uninterrupted batch run, and of a live run, of the same recipe and seed."""
    folder = tmp_path_factory.mktemp("reference")
    with batch_stub(folder) as url:
        done = run(url, folder / "batch.jsonl")
        assert done.returncode == 0, done.stderr
        live = run(url, folder / "live.jsonl", api="live")
        assert live.returncode == 0, live.stderr
    return rows(folder / "batch.jsonl"), rows(folder / "live.jsonl")


def test_a_batch_run_makes_the_records_of_the_live_run(reference):
    batch, live = reference
    assert len(batch) == 12 and batch == live


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_at_a_stage_then_resume_submits_nothing_twice(tmp_path, stage, api, reference):
    with batch_stub(tmp_path) as url:
        out = tmp_path / "b.jsonl"
        killed = run(url, out, stage, api)
        assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
        assert not out.exists()
        done = run(url, out, "-", api)
        assert done.returncode == 0, done.stderr[-2000:]
        s = stats(url)
    got = rows(out)
    assert len(got) == 12 and len({json.loads(r)["subject"] for r in got}) == 12
    if api == "openai":
        assert got == reference[0]  # the same records as the uninterrupted run
    assert s["submitted"] == 12, s  # each request went into a batch once: none submitted twice
    assert s["repeats"] == 0 and s["answered"] == 12, s  # and each was answered once, and used
    assert s["batches"] == 1 and s["live"] == 0, s
