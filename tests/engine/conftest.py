"""One small local Ray cluster for the whole test session (tests/engine/test_ray*.py), stopped at the end."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'synthloom[ray]')")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # a local cluster that reaches nothing outside
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
