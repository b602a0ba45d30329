"""`batch_api:` on an `openai` model block: the calls of a run go through the provider's batch API.

`BatchLLM` is an `LLM`: a slot asks it for results as it would ask the live backend, and waits.
Behind it, requests gather in a queue; when none has come for `batch.collect_s` (every slot in
flight is waiting), or a batch is full (`max_requests`, `max_bytes`), the queue becomes batches,
one per endpoint. Each batch goes through its stages (runs/batch_log.py), each written to the run
store before the next step: prepared -> uploaded -> submitted (its batch id) -> polled, with a
wait that grows by half up to `poll_max_s` -> its results downloaded and, in one transaction,
put in the call cache with the stage `collected`. Then each waiting slot gets its answer, and
parsing, gates and acceptance go on exactly as for a live answer.

A request that came back without an answer (failed, expired, cancelled, an unreadable line) goes
into the next batch, up to the model's `max_retries`; after that its slot gets a failed result.
A batch still running `batch.overdue_s` after its expiry is cancelled, and what it left unanswered
is asked again: nothing is waited on forever.

Crash safety: `bind` (by the engine, with the run store) makes the first `generate` pick up every
batch of this model the store holds short of `collected`: a prepared one is dropped (nothing left
the machine), an uploaded one is looked up at the provider (adopted when the create got through),
a submitted one is polled again and collected. Its requests are registered as pending, so a
resumed slot that asks the same call joins the batch instead of submitting it again.

Identity and price: the calls have their own identity (`...@openai-batch`), so they are cached
and priced apart from live calls (`price.batch_input`/`batch_output`, default half). Once fewer
records than `batch_api_min` are missing, `for_request` answers the live backend: the tail of a
run calls live, after looking for each call among the batches first.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from typing import Any, Callable, Sequence

import orjson

from ..config.batch import batch_identity
from ..config.models import OpenAIModel
from ..errors import BackendAuthError, BackendError
from ..runs.batch_log import BatchLog
from .batch_api import BatchInfo, provider_for
from .openai_compat import OpenAICompatLLM
from .types import LLM, GenerationRequest, GenerationResult, cache_key, result_to_json

log = logging.getLogger(__name__)


class _Item:
    """One distinct call waiting for a batch: every slot that asked it waits on one of its futures."""

    __slots__ = ("key", "req", "futures", "tries", "asked")

    def __init__(self, key: str, req: GenerationRequest) -> None:
        self.key, self.req, self.futures, self.tries, self.asked = key, req, [], 0, time.perf_counter()

    def resolve(self, result: GenerationResult | BaseException) -> None:
        for f in self.futures:
            if not f.done():
                if isinstance(result, asyncio.CancelledError):
                    f.cancel()
                elif isinstance(result, BaseException):
                    f.set_exception(result)
                else:
                    f.set_result(dataclasses.replace(result, latency_s=time.perf_counter() - self.asked))
        self.futures.clear()


def request_json(req: GenerationRequest) -> bytes:
    return orjson.dumps({**req.key_payload(), "purpose": req.purpose})


def request_from_json(raw: bytes) -> GenerationRequest:
    d = orjson.loads(raw)
    return GenerationRequest(
        messages=None if d["messages"] is None else tuple(d["messages"]), prompt=d["prompt"],
        json_schema=d["json_schema"], max_tokens=d["max_tokens"], temperature=d["temperature"], top_p=d["top_p"],
        seed=d["seed"], stop=tuple(d["stop"]), avoid=tuple(d.get("avoid") or ()), purpose=d.get("purpose") or "generate")


class BatchLLM:
    """An `openai` model block with `batch_api`: calls through the provider's batch API (module docstring)."""

    def __init__(self, cfg: OpenAIModel, session: Any = None, api: Any = None) -> None:
        self.cfg = cfg
        self.live = OpenAICompatLLM(cfg, session)
        self.api = api or provider_for(cfg, self.live, session)
        self._identity = batch_identity(self.live.identity, cfg.batch_api or "openai")
        self.max_requests = cfg.batch.max_requests or self.api.max_requests
        self.max_bytes = cfg.batch.max_bytes or self.api.max_bytes
        # slots in flight when the recipe does not say: a batch's worth (the engine paces them, engine/batches.py)
        self.concurrency = self.max_requests
        self.log: BatchLog | None = None
        self.run_id: str | None = None
        self.missing: Callable[[], int] | None = None
        self.pending: dict[str, _Item] = {}  # queued or in a batch, by cache key (= custom_id)
        self.queue: dict[str, list[tuple[_Item, bytes]]] = {}  # endpoint -> (item, its line)
        self.tasks: set[asyncio.Task] = set()
        self.collector: asyncio.Task | None = None
        self.wake: asyncio.Event | None = None
        self.last_ask = 0.0
        self.stats = {"batches": 0, "requests": 0, "retried": 0, "live": 0}
        self._warned = False

    @property
    def identity(self) -> str:
        return self._identity

    def __repr__(self) -> str:
        return f"BatchLLM({self._identity!r})"

    def bind(self, store: Any, run_id: str, missing: Callable[[], int] | None = None) -> None:
        """Keep this run's batches in `store` (the engine calls it before the first slot)."""
        self.log, self.run_id, self.missing = BatchLog(store), run_id, missing

    def live_now(self) -> bool:
        return bool(self.cfg.batch_api_min) and self.missing is not None and self.missing() < self.cfg.batch_api_min

    def for_request(self, req: GenerationRequest) -> LLM:
        return self.live if self.live_now() else self

    # -- asking -------------------------------------------------------------------------------

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if not requests:
            return []
        if self.log is None:  # outside a run there is no store to keep batch ids in
            if not self._warned:
                log.warning("%s: batch_api needs a run (its store keeps the batch ids): calling live", self._identity)
                self._warned = True
            return await self.live.generate(requests)
        self._start()
        loop = asyncio.get_running_loop()
        live_now = self.live_now()
        out: list[Any] = [None] * len(requests)
        waits: list[tuple[int, asyncio.Future]] = []
        to_live: list[int] = []
        keys = [cache_key(self._identity, r) for r in requests]
        stored = self.log.store.get_calls(keys) if live_now else {}
        for i, (key, req) in enumerate(zip(keys, requests)):
            item = self.pending.get(key)
            if item is None and live_now:
                if key in stored:  # answered by a batch before this process started
                    out[i] = GenerationResult(cached=True, **stored[key])
                else:
                    to_live.append(i)
                continue
            if item is None:
                item = self.pending[key] = _Item(key, req)
                self._enqueue(item)
            fut = loop.create_future()
            item.futures.append(fut)
            waits.append((i, fut))
        if to_live:
            self.stats["live"] += len(to_live)
            for i, r in zip(to_live, await self.live.generate([requests[i] for i in to_live])):
                out[i] = r
        for i, fut in waits:
            out[i] = await fut
        return out

    def _enqueue(self, item: _Item) -> None:
        line = self.api.line(item.key, item.req)
        self.queue.setdefault(self.api.endpoint(item.req), []).append((item, line))
        self.last_ask = time.monotonic()
        assert self.wake is not None
        self.wake.set()

    def _start(self) -> None:
        if self.collector is not None and not self.collector.done():
            return
        self.wake = asyncio.Event()
        self.collector = asyncio.ensure_future(self._collect())
        self._resume()

    # -- cutting batches ----------------------------------------------------------------------

    async def _collect(self) -> None:
        assert self.wake is not None
        wait = self.cfg.batch.collect_s
        while True:
            await self.wake.wait()
            self.wake.clear()
            while any(self.queue.values()):
                quiet = time.monotonic() - self.last_ask >= wait
                for endpoint in list(self.queue):
                    for chunk in self._cut(endpoint, whole_only=not quiet):
                        self._spawn(self._batch([it for it, _ in chunk], [ln for _, ln in chunk]))
                if any(self.queue.values()):
                    await asyncio.sleep(max(0.005, wait - (time.monotonic() - self.last_ask)))

    def _cut(self, endpoint: str, whole_only: bool) -> list[list[tuple[_Item, bytes]]]:
        """The queue of one endpoint in batches within the limits; only full ones while requests still come."""
        q, chunks, cur, size = self.queue.get(endpoint, []), [], [], 0
        for entry in q:
            n = len(entry[1]) + 1
            if cur and (len(cur) >= self.max_requests or size + n > self.max_bytes):
                chunks.append(cur)
                cur, size = [], 0
            cur.append(entry)
            size += n
        if cur and (not whole_only or len(cur) >= self.max_requests):
            chunks.append(cur)
            cur = []
        self.queue[endpoint] = cur
        return chunks

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- one batch: stages ----------------------------------------------------------------------

    async def _batch(self, items: list[_Item], lines: list[bytes]) -> None:
        assert self.log is not None
        local_id = uuid.uuid4().hex[:16]
        self.log.prepare(local_id, self.run_id, self._identity, self.api.name,
                         [(it.key, it.req.purpose, request_json(it.req)) for it in items], sum(map(len, lines)))
        self.stats["batches"] += 1
        self.stats["requests"] += len(items)
        try:
            file_id = await self.api.upload(local_id, lines)
            self.log.update(local_id, state="uploaded", file_id=file_id)
            since = time.time()
            try:
                info = await self.api.create(local_id, file_id, lines)
            except BackendAuthError:
                raise
            except BackendError as exc:  # did the create get through before the error? then adopt it
                info = await self.api.find(local_id, file_id, since, len(items), self.log.adopted_batch_ids(self._identity))
                if info is None:
                    self.log.update(local_id, state="abandoned", note=f"create failed: {exc}"[:500])
                    self._retry(items, "failed")
                    return
            self._submitted(local_id, info)
            await self._follow(local_id, info, {it.key: it for it in items})
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the run stops with the error rather than waiting forever
            log.error("%s: batch %s: %s", self._identity, local_id, exc)
            for it in items:
                self.pending.pop(it.key, None)
                it.resolve(exc)

    def _submitted(self, local_id: str, info: BatchInfo) -> None:
        assert self.log is not None
        self.log.update(local_id, state="submitted", batch_id=info.id, provider_status=info.status,
                        counts=info.counts, expires_at=info.expires_at)
        log.info("%s: batch %s submitted as %s", self._identity, local_id, info.id)

    async def _follow(self, local_id: str, info: BatchInfo, items: dict[str, _Item]) -> None:
        """Poll until the batch ends (or is overdue), then collect it."""
        assert self.log is not None
        b = self.cfg.batch
        wait, cancelled_at = b.poll_s, None
        while not info.ended:
            await asyncio.sleep(wait)
            wait = min(wait * 1.5, b.poll_max_s)
            try:
                info = await self.api.get(info.id)
            except BackendAuthError:
                raise
            except BackendError as exc:
                log.warning("%s: batch %s: status unknown (%s); asking again in %.0f s", self._identity, info.id, exc, wait)
                continue
            self.log.update(local_id, provider_status=info.status, counts=info.counts, expires_at=info.expires_at)
            now = time.time()
            if info.ended or info.expires_at is None or now < info.expires_at + b.overdue_s:
                continue
            if cancelled_at is None:
                log.warning("%s: batch %s is still %s %.0f s after its window; cancelling it, its requests are "
                            "asked again", self._identity, info.id, info.status, now - info.expires_at)
                await self.api.cancel(info.id)
                cancelled_at = now
            elif now - cancelled_at > b.overdue_s:
                self.log.collect(local_id, [], [(k, "retry", "overdue") for k in items], provider_status=info.status,
                                 note="gave up: never ended")
                self._retry(list(items.values()), "overdue")
                return
        await self._collect_results(local_id, info, items)

    async def _collect_results(self, local_id: str, info: BatchInfo, items: dict[str, _Item]) -> None:
        assert self.log is not None
        answers = await self.api.results(info, {k: it.req for k, it in items.items()})
        rows, outcomes, failed, done = [], [], [], []
        for a in answers:
            it = items[a.custom_id]
            if a.result is None:
                outcomes.append((a.custom_id, "retry", a.reason))
                failed.append((it, a.reason))
                continue
            outcomes.append((a.custom_id, "answered", ""))
            done.append((it, a.result))
            if a.result.finish_reason != "error":
                rows.append((it.key, self._identity, it.req.purpose, result_to_json(a.result),
                             a.result.prompt_tokens, a.result.completion_tokens, a.result.latency_s))
        self.log.collect(local_id, rows, outcomes, provider_status=info.status, counts=info.counts,
                         note=info.note or None)
        for it, result in done:
            self.pending.pop(it.key, None)
            it.resolve(result)
        by_reason: dict[str, list[_Item]] = {}
        for it, reason in failed:
            by_reason.setdefault(reason, []).append(it)
        for reason, its in by_reason.items():
            self._retry(its, reason)

    def _retry(self, items: list[_Item], reason: str) -> None:
        """Unanswered requests: into the next batch while they have tries left and a slot waits for them."""
        for it in items:
            it.tries += 1
            if not it.futures:  # nobody waits (a resumed batch): a slot that asks again enqueues it anew
                self.pending.pop(it.key, None)
            elif it.tries > self.cfg.max_retries:
                self.pending.pop(it.key, None)
                it.resolve(GenerationResult(text="", finish_reason="error", model=self._identity, error_kind="backend",
                                            error=f"{self._identity}: no answer from the batch API ({reason}) "
                                                  f"after {it.tries} batch(es)"))
            else:
                self.stats["retried"] += 1
                self._enqueue(it)

    # -- resume ---------------------------------------------------------------------------------

    def _resume(self) -> None:
        """Carry on every batch of this model the store holds short of collected (module docstring)."""
        assert self.log is not None
        taken = self.log.adopted_batch_ids(self._identity)
        for b in self.log.open_batches(self._identity):
            if b["state"] == "prepared":
                self.log.update(b["local_id"], state="abandoned", note="never uploaded: the process stopped")
                continue
            items: dict[str, _Item] = {}
            for cid, _purpose, raw in self.log.items(b["local_id"]):
                req = request_from_json(raw)
                if cid not in self.pending:
                    self.pending[cid] = items[cid] = _Item(cid, req)
                else:
                    items[cid] = self.pending[cid]
            log.info("%s: resuming batch %s (%s, %d requests)", self._identity, b["local_id"], b["state"], len(items))
            self._spawn(self._carry_on(b, items, taken))

    async def _carry_on(self, b: dict[str, Any], items: dict[str, _Item], taken: set[str]) -> None:
        assert self.log is not None
        local_id = b["local_id"]
        try:
            if b["state"] == "uploaded":
                info = await self.api.find(local_id, b["file_id"], b["updated"], b["n"], taken)
                if info is None:
                    self.log.update(local_id, state="abandoned", note="never created: the process stopped")
                    for it in items.values():
                        self.pending.pop(it.key, None)
                        if it.futures:  # slots joined meanwhile: their requests go into a new batch
                            self.pending[it.key] = it
                            self._enqueue(it)
                    return
                taken.add(info.id)
                self._submitted(local_id, info)
            else:
                info = await self.api.get(b["batch_id"])
            await self._follow(local_id, info, items)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            log.error("%s: resumed batch %s: %s", self._identity, local_id, exc)
            for it in items.values():
                self.pending.pop(it.key, None)
                it.resolve(exc)

    async def aclose(self) -> None:
        tasks = [t for t in (self.collector, *self.tasks) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.collector = None
        for it in list(self.pending.values()):
            it.resolve(asyncio.CancelledError())
        self.pending.clear()
        self.queue.clear()
        await self.api.aclose()
        await self.live.aclose()
