"""engine.executor: ray on a local Ray cluster (127.0.0.1): the same accepted records as the
local executor, a worker killed mid-run loses and duplicates nothing, and one clear error each
for a missing extra, a cluster nobody answers at, and resources no node has."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from servers import record_server as start_record_server

from synthloom.engine.api import run_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import UsageError

pytestmark = pytest.mark.ray
HELPERS = Path(__file__).parent.parent / "helpers"
SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}, "priority": {"type": "integer"}},
          "required": ["subject", "priority"]}


@pytest.fixture(scope="module")
def ticket_server(tmp_path_factory):
    """Answers by request seed only, with 25 distinct tickets: known duplicates for the driver's dedup."""
    with start_record_server(tmp_path_factory.mktemp("srv"), "--latency-ms", "40", "--distinct", "25") as url:
        yield url


def recipe(url: str, executor: str, **ray) -> object:
    return recipe_from_dict({
        "name": "tickets", "count": 40,
        "model": {"backend": "openai", "base_url": url + "/v1", "model": "tickets", "api_key_env": None},
        "generate": {"technique": "schema", "schema": SCHEMA},
        "quality": [{"gate": "dedup"}],
        "engine": {"concurrency": 4, "max_attempts": 36, "seed": 7, "executor": executor, "ray": ray},
    }, "test")


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/stats") as r:
        return json.load(r)


def test_ray_equals_local_and_survives_a_killed_worker(tmp_path, ray_cluster, ticket_server, caplog):
    local = run_recipe(recipe(ticket_server, "local"), output=tmp_path / "local.jsonl")
    # 36 slots, at most 25 distinct tickets: the driver's dedup keeps each ticket once
    assert 10 < local.accepted <= 25 and local.stopped_by == "max_attempts"
    assert local.rejections == [("dedup", "exact_duplicate", 36 - local.accepted)]
    want = sorted(r["subject"] for r in rows(tmp_path / "local.jsonl"))

    from synthloom.engine import ray_executor

    executors = []
    real_start = ray_executor.RayExecutor.start
    killed = []

    def start(settings):
        executors.append(real_start(settings))
        return executors[-1]

    def kill_one(progress):
        if progress.slots_done >= 6 and not killed:  # 2 workers, 4 slots in flight: each has calls running
            os.kill(executors[0].pids[0], signal.SIGKILL)
            killed.append(progress.slots_done)

    before = stats(ticket_server)["requests"]
    ray_executor.RayExecutor.start = staticmethod(start)
    try:
        with caplog.at_level(logging.WARNING, logger="synthloom.engine.ray_executor"):
            summary = run_recipe(recipe(ticket_server, "ray", workers=2), output=tmp_path / "ray.jsonl",
                                 on_progress=kill_one)
    finally:
        ray_executor.RayExecutor.start = real_start
    assert killed, "the run ended before the worker could be killed"
    assert "died with a call in flight" in caplog.text
    assert executors[0].lost_calls >= 1
    got = sorted(r["subject"] for r in rows(tmp_path / "ray.jsonl"))
    assert got == want  # same seed, same recipe: the same accepted set, nothing lost or duplicated
    assert summary.accepted == local.accepted and summary.funnel["generated"] == 36
    # every slot once: the redone slot's calls are asked again only for the ones in flight at the kill
    asked = stats(ticket_server)["requests"] - before
    assert 36 <= asked <= 36 + executors[0].lost_calls


def test_rerun_replays_from_the_cache(tmp_path, ray_cluster, ticket_server):
    r = recipe(ticket_server, "ray", workers=2)
    run_recipe(r, output=tmp_path / "a.jsonl")
    before = stats(ticket_server)["requests"]
    again = run_recipe(r, output=tmp_path / "a.jsonl")
    assert stats(ticket_server)["requests"] == before  # nothing asked twice
    assert again.accepted == len(rows(tmp_path / "a.jsonl")) > 10


def test_missing_ray_extra_is_one_clear_error(tmp_path, ticket_server, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'synthloom\[ray\]'"):
        run_recipe(recipe(ticket_server, "ray"), output=tmp_path / "x.jsonl")
    assert not (tmp_path / "x.run").exists()


def test_unreachable_cluster_is_one_clear_error(tmp_path, ticket_server):
    import socket

    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'synthloom[ray]')")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(UsageError, match=rf"engine.ray.address: no Ray cluster answers at 127.0.0.1:{port}"):
        run_recipe(recipe(ticket_server, "ray", address=f"127.0.0.1:{port}"), output=tmp_path / "x.jsonl")
    assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "x.run").exists()


def test_resources_no_node_has_is_one_clear_error(tmp_path, ray_cluster, ticket_server):
    with pytest.raises(UsageError, match=r"no node in the Ray cluster has CPU=1, GPU=4 .*lower engine.ray"):
        run_recipe(recipe(ticket_server, "ray", num_gpus=4), output=tmp_path / "x.jsonl")
    assert not (tmp_path / "x.run").exists()


@pytest.mark.model
def test_two_workers_on_the_bundled_model(tmp_path, ray_cluster):
    """Each worker loads its own copy of the bundled GGUF; the driver gets valid records from both."""
    import jsonschema

    from synthloom import RunStore
    from synthloom.engine import ray_executor

    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                                               "country": {"type": "string", "maxLength": 30}},
              "required": ["city", "country"]}
    recipe = recipe_from_dict({
        "name": "cities", "count": 2, "model": {"backend": "llamacpp", "n_threads": 1},
        "generate": {"technique": "schema", "instruction": "A city and the country it is in.", "schema": schema,
                     "examples": [{"city": "Lyon", "country": "France"}], "sampling": {"max_tokens": 40}},
        "engine": {"concurrency": 2, "seed": 3, "executor": "ray", "ray": {"workers": 2}},
    }, "test")
    executors, seen = [], []
    real_start, real_call = ray_executor.RayExecutor.start, ray_executor.RayExecutor.call

    def start(settings):
        executors.append(real_start(settings))
        return executors[-1]

    async def call(self, key, models, requests):
        out = await real_call(self, key, models, requests)
        seen.extend(r.model for r in out)
        return out

    ray_executor.RayExecutor.start, ray_executor.RayExecutor.call = staticmethod(start), call
    try:
        summary = run_recipe(recipe, output=tmp_path / "c.jsonl")
    finally:
        ray_executor.RayExecutor.start, ray_executor.RayExecutor.call = real_start, real_call
    assert summary.complete and summary.calls >= 2
    assert all(n > 0 for n in executors[0].answered)  # both workers answered calls
    assert seen and all(m.startswith("llamacpp:") for m in seen)  # with their own llama.cpp
    got = rows(tmp_path / "c.jsonl")
    assert len(got) == 2 and got[0] != got[1]
    for row in got:
        jsonschema.validate(row, schema)
        assert row["city"].strip() and row["country"].strip()
    with RunStore(tmp_path / "c.run" / "store.sqlite") as store:
        assert store.call_count() == summary.calls  # the driver wrote every new answer to the cache


def test_each_worker_gets_its_own_endpoint():
    """engine.ray.endpoints: worker i talks to endpoints[i % len], one server per node; a llama.cpp block keeps its
    settings and, when it sets no n_threads, takes the worker's share of cores (engine.ray.num_cpus)."""
    from synthloom.config.models import LlamaCppModel, OpenAIModel
    from synthloom.engine.ray_executor import ModelWorker

    models = [OpenAIModel(backend="openai", base_url="http://head:8000/v1", model="m"), LlamaCppModel()]
    urls = ["http://node0:8000/v1", "http://node1:8000/v1"]
    got = [ModelWorker(i, urls)._models(models) for i in range(3)]
    assert [g[0].base_url for g in got] == [urls[0], urls[1], urls[0]]
    assert all(g[1] == models[1].model_copy(update={"n_threads": 1}) for g in got)
    assert ModelWorker(0, [])._models(models[:1]) == models[:1]
    assert ModelWorker(0, [], threads=2)._models(models)[1].n_threads == 2
    pinned = LlamaCppModel(n_threads=3)
    assert ModelWorker(0, [], threads=1)._models([pinned]) == [pinned]
