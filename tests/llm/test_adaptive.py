"""Adaptive concurrency (AIMD) in the openai backend, against a real loopback server that answers 429."""
from __future__ import annotations

import asyncio

import pytest

from synthloom.config.models import OpenAIModel
from synthloom.llm import openai_compat
from synthloom.llm.adaptive import AdaptiveLimit, limit_report, limit_text
from synthloom.llm.openai_compat import OpenAICompatLLM
from synthloom.llm.types import GenerationRequest

from ..helpers.busy_server import BusyServer


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(openai_compat, "_BACKOFF_BASE_S", 0.01)


def make(server, **kw) -> OpenAICompatLLM:
    return OpenAICompatLLM(OpenAIModel(backend="openai", base_url=server.base_url, model="m", api_key_env=None, **kw))


def reqs(n):
    return [GenerationRequest(messages=({"role": "user", "content": f"ticket {i}"},), seed=i) for i in range(n)]


async def test_429_cuts_the_limit_and_every_request_still_succeeds():
    srv = await BusyServer(capacity=4, retry_after=None, latency=0.02).start()
    llm = make(srv, max_concurrency=32, max_retries=8)
    try:
        results = await llm.generate(reqs(300))
    finally:
        await llm.aclose()
        await srv.stop()
    assert all(r.ok for r in results) and srv.served == 300
    lim = llm.limiter
    assert lim.cuts >= 2 and lim.lowest <= 8, lim.state()
    assert srv.max_in_flight <= 32
    # after the first waves the client stays near what the server takes: a fixed 32 in flight would have
    # been refused ~28 times per wave of 32 (~260 refusals for 300 requests)
    assert len(srv.refusals) < 120, len(srv.refusals)
    late = [n for _t, n, _s in srv.arrivals[len(srv.arrivals) // 2:]]
    assert sum(late) / len(late) <= 10, sum(late) / len(late)
    row = limit_report([llm])[0]
    assert row["model"] == llm.identity and row["max"] == 32 and row["cuts"] == lim.cuts
    assert limit_text([llm]) == f"{lim.current}/32"


async def test_retry_after_is_honoured_and_pauses_everyone_once_the_limit_is_one():
    srv = await BusyServer(capacity=2, retry_after=0.4, latency=0.01).start()
    llm = make(srv, max_concurrency=8, max_retries=6)
    try:
        results = await llm.generate(reqs(16))
    finally:
        await llm.aclose()
        await srv.stop()
    assert all(r.ok for r in results)
    # every refused request came back no sooner than the 0.4 s the server asked for
    for t, seed in srv.refusals:
        again = min(a for a, _n, s in srv.arrivals if s == seed and a > t)
        assert again - t >= 0.39, (seed, again - t)
    # while the limit was above one, the cut (not a pause) was the answer: others went on at once
    first = srv.refusals[0][0]
    assert any(0.005 < a - first < 0.3 for a, _n, _s in srv.arrivals) and llm.limiter.cuts >= 1

    # a server that refuses everything for a while: at a limit of one, nothing new goes out during the pause
    srv = await BusyServer(capacity=0, retry_after=0.3, latency=0.01).start()
    llm = make(srv, max_concurrency=4, max_retries=2)
    try:
        lim_task = llm.generate(reqs(4))
        results = await lim_task
    finally:
        await llm.aclose()
        await srv.stop()
    assert llm.limiter.current == 1 and llm.limiter.paused_s >= 0.25
    gaps = [b[0] - a[0] for a, b in zip(srv.arrivals, srv.arrivals[1:])]
    assert max(gaps) >= 0.29


async def test_limit_grows_back_slowly_and_never_above_the_ceiling():
    lim = AdaptiveLimit(16)
    e = await lim.acquire()
    lim.release()
    assert lim.overload(e) and lim.current == 8
    assert not lim.overload(e)  # the same wave of failures counts once
    for _ in range(7):
        lim.success()
    assert lim.current == 8
    for _ in range(2):
        lim.success()
    assert lim.current == 9  # about one more per window (the limit's worth) of successes
    for _ in range(1000):
        lim.success()
    assert lim.current == 16 and lim.limit == 16.0


async def test_waiters_are_served_when_the_limit_allows():
    lim = AdaptiveLimit(2)
    order = []

    async def one(i):
        await lim.acquire()
        order.append(("start", i, lim.in_flight))
        await asyncio.sleep(0.01)
        lim.release()

    await asyncio.gather(*(one(i) for i in range(6)))
    assert max(n for _s, _i, n in order) == 2 and len(order) == 6 and lim.in_flight == 0


async def test_a_server_that_always_429s_gives_errors_not_a_hang():
    srv = await BusyServer(capacity=0, retry_after=0.01).start()
    llm = make(srv, max_concurrency=8, max_retries=2)
    try:
        results = await llm.generate(reqs(5))
    finally:
        await llm.aclose()
        await srv.stop()
    assert all(not r.ok and "HTTP 429" in r.error and "after 3 attempt(s)" in r.error for r in results)
    assert llm.limiter.current == 1


async def test_timeouts_cut_the_limit_too():
    srv = await BusyServer(capacity=1000, latency=0.5).start()
    llm = make(srv, max_concurrency=8, max_retries=1, timeout_s=0.1)
    try:
        results = await llm.generate(reqs(4))
    finally:
        await llm.aclose()
        await srv.stop()
    assert all(not r.ok and "timed out after 0.1 s" in r.error for r in results)
    assert llm.limiter.cuts >= 1 and llm.limiter.current <= 4
