"""engine.executor: ray with engine.ray.drivers: 2 runs two shard drivers as Ray tasks and merges them:
the records of the same recipe on one local driver."""
from __future__ import annotations

import json

import pytest
from servers import record_server as start_record_server

from synthloom.engine.api import run_recipe
from synthloom.engine.recipe_file import recipe_from_dict

pytestmark = pytest.mark.ray
SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}, "priority": {"type": "integer"}},
          "required": ["subject", "priority"]}


def recipe(url: str, executor: str, **ray) -> object:
    return recipe_from_dict({
        "name": "tickets", "count": 24,
        "model": {"backend": "openai", "base_url": url + "/v1", "model": "tickets", "api_key_env": None},
        "generate": {"technique": "schema", "schema": SCHEMA},
        "quality": [{"gate": "dedup"}],
        "engine": {"concurrency": 4, "seed": 5, "executor": executor, "ray": ray},
    }, "test")


def test_two_drivers_on_ray_give_the_local_run(tmp_path, ray_cluster):
    with start_record_server(tmp_path, "--latency-ms", "10") as url:
        local = run_recipe(recipe(url, "local"), output=tmp_path / "local.jsonl")
        ray_run = run_recipe(recipe(url, "ray", drivers=2, num_cpus=1), output=tmp_path / "ray.jsonl")
    assert local.accepted == ray_run.accepted == 24 and ray_run.complete
    got = sorted((tmp_path / "ray.jsonl").read_text().splitlines())
    assert got == sorted((tmp_path / "local.jsonl").read_text().splitlines())
    man = json.loads((tmp_path / "ray.run" / "manifest.json").read_text())
    assert [s["shard"] for s in man["shards"]] == ["0/2", "1/2"] and all(s["accepted"] == 12 for s in man["shards"])
