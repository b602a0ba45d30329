"""The batcher of the model-scored checks: concurrent checks measured in one call, each given its own result."""
from __future__ import annotations

import asyncio
import pickle
import threading

import pytest

from synthloom.quality.batching import LoopBatcher


def test_checks_waiting_together_are_measured_in_one_call_each_with_its_own_result():
    calls: list[list[int]] = []

    def measure(items):
        calls.append(list(items))
        return [i * 10 for i in items]

    batcher: LoopBatcher[int, int] = LoopBatcher()

    async def go():
        return await asyncio.gather(*(batcher.run(i, measure) for i in range(5)))

    assert asyncio.run(go()) == [0, 10, 20, 30, 40]
    assert calls == [[0, 1, 2, 3, 4]]


def test_items_that_arrive_during_a_call_go_in_the_next_one():
    calls: list[list[str]] = []
    started, release = threading.Event(), threading.Event()

    def measure(items):
        calls.append(list(items))
        if len(calls) == 1:
            started.set()
            release.wait(5)
        return [s.upper() for s in items]

    batcher: LoopBatcher[str, str] = LoopBatcher()

    async def go():
        first = asyncio.ensure_future(batcher.run("a", measure))
        await asyncio.to_thread(started.wait, 5)  # the first call is running
        later = [asyncio.ensure_future(batcher.run(s, measure)) for s in ("b", "c")]
        await asyncio.sleep(0)
        release.set()
        return await first, await asyncio.gather(*later)

    assert asyncio.run(go()) == ("A", ["B", "C"])
    assert calls == [["a"], ["b", "c"]]


def test_a_failed_call_fails_every_check_of_its_batch_and_the_next_batch_still_runs():
    def measure(items):
        if "bad" in items:
            raise RuntimeError("the scorer broke")
        return [len(s) for s in items]

    batcher: LoopBatcher[str, int] = LoopBatcher()

    async def go():
        failed = await asyncio.gather(batcher.run("bad", measure), batcher.run("ok", measure), return_exceptions=True)
        return failed, await batcher.run("fine", measure)

    failed, after = asyncio.run(go())
    assert all(isinstance(e, RuntimeError) and "scorer broke" in str(e) for e in failed)
    assert after == 4


def test_a_copy_starts_with_nothing_waiting():
    batcher: LoopBatcher[int, int] = LoopBatcher()
    copy = pickle.loads(pickle.dumps(batcher))
    assert asyncio.run(copy.run(3, lambda items: [i + 1 for i in items])) == 4
    with pytest.raises(TypeError):
        asyncio.run(copy.run(3, lambda items: None))  # a measure that returns nothing: its check fails, no hang
    with pytest.raises(RuntimeError, match="gave 0 results for 1 items"):
        asyncio.run(copy.run(3, lambda items: []))
