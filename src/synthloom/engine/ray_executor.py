"""`engine.executor: ray`: a run's model calls on Ray actors, everything else in the driver.

The driver keeps the slot schedule, the generator's prompt building and parsing,
the gates (stateful and stateless), acceptance, the call cache and the run store:
the same code as the local executor, so the same seed gives the same records and
a re-run replays the cache exactly as on one machine. Each actor holds its own
model backend (llama.cpp in-process with its GGUF, or an OpenAI-compatible
endpoint of its own) and answers the calls the driver sends it.

Why the calls, not whole slots, travel: a slot's calls depend on each other
(evol-instruct rewrites its own answer, a judge reads the candidate) and each one
must be looked up in the call cache first, so a slot run on an actor would come
back to the driver once per call anyway. The model calls are where the time goes
(seconds each on a local model); the driver's share is milliseconds per slot.
See docs/scaling.md for where this stops holding.

A worker that dies fails the calls it had in flight with `WorkerLost`; the runner
puts their slots back in the queue, Ray restarts the actor (up to
`engine.ray.max_restarts`), and the redone slot replays its finished calls from
the cache. Ray is imported only here and only when a recipe asks for it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any, Sequence

from ..config.ray_settings import RaySettings
from ..errors import BackendError, UsageError, require
from ..llm.types import LLM, GenerationRequest, GenerationResult, router
from ..records import content_hash

log = logging.getLogger(__name__)

class WorkerLost(BackendError):
    """A Ray worker died with this call in flight; the slot is redone elsewhere."""


def import_ray():
    return require("ray", "ray", "engine.executor: ray / --executor ray")


def _check_reachable(address: str, named: str) -> None:
    """One clear error for a cluster nobody answers at, instead of Ray's minute of retries."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"{named}: '{address}' is not host:port or ray://host:port")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise UsageError(
            f"{named}: no Ray cluster answers at {host}:{port} ({exc.strerror or exc}); start one with "
            "`ray start --head`, fix the address, or leave it out to run on a local cluster"
        ) from None


def _per_worker(settings: RaySettings) -> dict[str, float]:
    need = {"CPU": settings.num_cpus, "GPU": settings.num_gpus, **settings.resources}
    return {k: v for k, v in need.items() if v > 0}


def _check_resources(ray: Any, settings: RaySettings) -> None:
    need = _per_worker(settings)
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if any(all(node.get(k, 0) >= v for k, v in need.items()) for node in nodes):
        return
    offer = "; ".join(
        ", ".join(f"{k}={v:g}" for k, v in sorted(node.items()) if k in ("CPU", "GPU") or k in settings.resources)
        for node in nodes
    ) or "none"
    ask = ", ".join(f"{k}={v:g}" for k, v in need.items())
    raise UsageError(
        f"engine.ray: no node in the Ray cluster has {ask} for one worker (nodes offer: {offer}); "
        "lower engine.ray.num_cpus / num_gpus / resources, or add such a node"
    )


class ModelWorker:
    """The actor: its own backend per model list, built on first use, closed with the actor."""

    def __init__(self, index: int, endpoints: list[str], threads: int = 1) -> None:
        self.index = index
        self.endpoints = endpoints
        self.threads = threads  # llama.cpp threads when the model block sets none: the actor's num_cpus
        self.backends: dict[str, Any] = {}

    def pid(self) -> int:
        return os.getpid()

    def _models(self, models: list[Any]) -> list[Any]:
        # workers share a node's cores: each takes its own share, not every core it sees idle at start
        models = [m.model_copy(update={"n_threads": self.threads})
                  if m.backend == "llamacpp" and m.n_threads is None else m for m in models]
        if not self.endpoints:
            return models
        url = self.endpoints[self.index % len(self.endpoints)]
        return [m.model_copy(update={"base_url": url}) if m.backend == "openai" else m for m in models]

    async def generate(self, key: str, models: list[Any], requests: list[GenerationRequest]) -> list[GenerationResult]:
        llm = self.backends.get(key)
        if llm is None:
            from ..llm.factory import build_llm

            llm = self.backends[key] = build_llm(self._models(models))
        return await llm.generate(requests)

    async def close(self) -> None:
        for llm in self.backends.values():
            await llm.aclose()
        self.backends.clear()


class RayExecutor:
    """The workers of one run: started before the run, handed calls by `RayLLM`, stopped after."""

    def __init__(self, ray: Any, settings: RaySettings, started_cluster: bool) -> None:
        self.ray = ray
        self.settings = settings
        self.started_cluster = started_cluster
        remote = ray.remote(ModelWorker).options(
            num_cpus=settings.num_cpus, num_gpus=settings.num_gpus, resources=settings.resources or None,
            max_restarts=settings.max_restarts, max_task_retries=0,
        )
        threads = max(1, int(settings.num_cpus))
        self.actors = [remote.remote(i, list(settings.endpoints), threads) for i in range(settings.workers)]
        self.inflight = [0] * len(self.actors)
        self.failures = [0] * len(self.actors)
        self.resting = [0.0] * len(self.actors)  # monotonic time before which a restarting worker gets no calls
        self.live = set(range(len(self.actors)))
        self.lost_calls = 0
        self.answered = [0] * len(self.actors)  # requests each worker answered
        self._batches: dict[str, tuple[list[Any], list[tuple[list, asyncio.Future]]]] = {}
        self._tasks: set[asyncio.Task] = set()

    @staticmethod
    def connect(settings: RaySettings) -> bool:
        """Join the cluster the recipe or RAY_ADDRESS names, else start a local one; True if started here."""
        ray = import_ray()
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry from a run
        address = settings.address or os.environ.get("RAY_ADDRESS")
        if address:
            _check_reachable(address, "engine.ray.address" if settings.address else "RAY_ADDRESS")
        if ray.is_initialized():
            return False
        if address:
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except Exception as exc:
                raise BackendError(f"engine.ray.address: could not join the Ray cluster at {address}: {exc}") from exc
        else:
            cpus = max(os.cpu_count() or 1, int(settings.workers * settings.num_cpus + 0.999))
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        return True

    @classmethod
    def start(cls, settings: RaySettings) -> "RayExecutor":
        ray = import_ray()
        started = cls.connect(settings)
        try:
            _check_resources(ray, settings)
            ex = cls(ray, settings, started)
            ex._wait_ready()
        except BaseException:
            if started:
                ray.shutdown()
            raise
        return ex

    def _wait_ready(self) -> None:
        refs = [a.pid.remote() for a in self.actors]
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=self.settings.start_timeout_s)
        if len(ready) < len(refs):
            self._kill()
            raise BackendError(
                f"engine.ray: {len(ready)} of {len(refs)} workers started within {self.settings.start_timeout_s:g} s "
                "(the cluster is busy or short of the resources each worker asks for: engine.ray.num_cpus / num_gpus / "
                "resources)"
            )
        self.pids = self.ray.get(refs)

    def wrap(self, local: Any, models: Sequence[Any]) -> "RayLLM":
        return RayLLM(local, list(models), self)

    async def _pick(self) -> int:
        while True:
            ready = [i for i in self.live if self.resting[i] <= time.monotonic()]
            if ready or not self.live:
                break
            await asyncio.sleep(0.1)  # every live worker is restarting
        if not self.live:
            raise BackendError(
                f"engine.ray: every worker died ({len(self.actors)} workers, each restarted up to "
                f"engine.ray.max_restarts={self.settings.max_restarts} times); see the Ray logs (/tmp/ray/session_latest/logs); "
                "re-running the command resumes from the store"
            )
        return min(ready, key=lambda i: (self.inflight[i], i))

    async def call(self, key: str, models: list[Any], requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Calls made in the same turn of the event loop travel together, split over the live workers:
        one Ray task per worker and turn instead of one per call (a Ray task costs about a millisecond)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = (models, [])
            loop.call_soon(self._flush, key)
        batch[1].append((requests, fut))
        return await fut

    def _flush(self, key: str) -> None:
        models, items = self._batches.pop(key)
        parts = max(1, min(len(items), len(self.live)))
        for p in range(parts):
            task = asyncio.ensure_future(self._send_batch(key, models, items[p::parts]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_batch(self, key: str, models: list[Any], items: list[tuple[list, asyncio.Future]]) -> None:
        try:
            out = await self._send(key, models, [r for reqs, _ in items for r in reqs])
        except BaseException as exc:
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(WorkerLost(str(exc)) if isinstance(exc, WorkerLost) else exc)
            return
        pos = 0
        for reqs, fut in items:
            if not fut.done():
                fut.set_result(out[pos : pos + len(reqs)])
            pos += len(reqs)

    async def _send(self, key: str, models: list[Any], requests: list[GenerationRequest]) -> list[GenerationResult]:
        from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

        i = await self._pick()
        self.inflight[i] += len(requests)
        try:
            out = await self.actors[i].generate.remote(key, models, requests)
            self.answered[i] += len(out)
            return out
        except RayTaskError as exc:  # the backend raised: the same error as on one machine
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, BaseException) else BackendError(str(exc))) from None
        except (RayActorError, ActorUnavailableError) as exc:
            self.lost_calls += len(requests)
            if isinstance(exc, ActorUnavailableError):  # restarting: send it nothing for a moment
                self.resting[i] = time.monotonic() + 1.0
            else:
                self.failures[i] += 1
                if self.failures[i] > self.settings.max_restarts:
                    self.live.discard(i)
            log.warning("Ray worker %d died with a call in flight; its slot goes back to the queue (%s)",
                        i, type(exc).__name__)
            raise WorkerLost(f"Ray worker {i} died") from exc
        finally:
            self.inflight[i] -= len(requests)

    def _kill(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # already gone
                pass

    async def aclose(self) -> None:
        refs = [self.actors[i].close.remote() for i in self.live]
        if refs:
            await asyncio.wait([asyncio.ensure_future(asyncio.wrap_future(r.future())) for r in refs], timeout=30)
        self._kill()
        if self.started_cluster:
            self.ray.shutdown()


class RayLLM:
    """The LLM protocol in the driver: the local backend's identity and routing (so cache keys
    equal the local executor's), the calls themselves on a worker."""

    def __init__(self, local: Any, models: list[Any], executor: RayExecutor) -> None:
        self._local = local
        self._route = router(local)
        self._models = models
        self._executor = executor
        self._key = content_hash([m.model_dump(mode="json") for m in models], 8)

    @property
    def identity(self) -> str:
        return self._local.identity

    @property
    def inner(self) -> Any:
        return self._local

    def for_request(self, req: GenerationRequest) -> LLM:
        return self._route(req)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        return await self._executor.call(self._key, self._models, list(requests))

    async def aclose(self) -> None:
        await self._local.aclose()
