"""Where a run's model calls go when `engine.executor: ray` (engine/ray_executor.py)."""
from __future__ import annotations

from pydantic import Field

from .common import Strict


class RaySettings(Strict):
    address: str | None = Field(
        None, description="a running cluster (host:port, ray://host:port or auto); default RAY_ADDRESS, else a local cluster"
    )
    workers: int = Field(2, gt=0, description="Ray actors, each with its own model backend")
    num_cpus: float = Field(1.0, ge=0, description="CPUs each worker reserves")
    num_gpus: float = Field(0.0, ge=0, description="GPUs each worker reserves")
    resources: dict[str, float] = Field(default_factory=dict, description="custom resources each worker reserves")
    endpoints: list[str] = Field(
        default_factory=list,
        description="one base_url per worker for an `openai` model (one server per node); worker i uses endpoints[i % len]",
    )
    max_restarts: int = Field(2, ge=0, description="times Ray restarts a worker that died (its slots are redone)")
    start_timeout_s: float = Field(120.0, gt=0, description="how long to wait for the workers to start")
    drivers: int = Field(1, gt=0, description="N > 1: the run as N shard drivers (slot % N), each a Ray task with its "
                         "own store, merged at the end (engine/ray_drivers.py)")
