"""kill -9 at every stage of a batch (before upload, after create, while polling, mid-download, after
collecting), then run again: the run ends with the records of an uninterrupted run, no request was
submitted twice and none was lost (the stub counts every request line it receives)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
STAGES = ["before_upload", "after_create", "polling", "mid_download", "after_collect"]


@contextmanager
def batch_stub(folder: Path, *args: str):
    """tests/helpers/batch_stub.py on a free port: yields its base URL (no /v1)."""
    import time

    port_file = folder / "stub-port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(HELPERS / "batch_stub.py"), "--port-file", str(port_file), *args])
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "batch_stub.py did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        proc.kill()
        proc.wait()


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/stats") as r:
        return json.load(r)


def run(url: str, out: Path, stage: str = "-", api: str = "openai", count: int = 12) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(HELPERS / "batch_run.py"), url + "/v1", str(out), stage, api, str(count)],
                          env=env, capture_output=True, text=True, timeout=180)


def rows(path: Path) -> list[str]:
    return sorted(path.read_text().splitlines())


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
