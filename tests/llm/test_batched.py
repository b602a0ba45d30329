"""Batched decoding in the llamacpp backend (llm/batched.py), on the real bundled model where it matters."""
from __future__ import annotations

import asyncio
import json

import jsonschema
import pytest

from synthloom.config.models import LlamaCppModel
from synthloom.config.recipe import EngineSettings
from synthloom.engine.runner import default_concurrency
from synthloom.llm.prefix_states import chunk_ends, reusable
from synthloom.llm.prefix_states import common_prefix as _common_prefix
from synthloom.llm.llamacpp import LlamaCppLLM
from synthloom.llm.types import GenerationRequest, cache_key

SCHEMAS = {
    "enum": {
        "type": "object",
        "properties": {"issue": {"type": "string", "enum": ["refund", "double charge", "cancellation"]},
                       "urgent": {"type": "boolean"}},
        "required": ["issue", "urgent"], "additionalProperties": False,
    },
    "bounded": {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 30},
                       "age": {"type": "integer", "minimum": 18, "maximum": 65}},
        "required": ["name", "age"], "additionalProperties": False,
    },
    "array": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 2, "maxItems": 4},
    "nested": {
        "type": "object",
        "properties": {
            "customer": {"type": "object",
                         "properties": {"name": {"type": "string", "maxLength": 30}, "plan": {"enum": ["free", "pro"]}},
                         # closed, as every technique's decoding schema closes it (structured.decoding_schema):
                         # left open, the 270M model adds "age", "address", "phone"... until max_tokens
                         "required": ["name", "plan"], "additionalProperties": False},
            "amount": {"type": "number", "minimum": 0, "maximum": 1000},
        },
        "required": ["customer", "amount"],
    },
}

# a long shared few-shot prefix, as a recipe's system text and examples make one
FEW_SHOT = (
    {"role": "system", "content": "Write one JSON record that matches the request. Keep every value short, "
                                  "realistic and in English; never repeat the example values."},
    {"role": "user", "content": "a customer"},
    {"role": "assistant", "content": json.dumps({"name": "Ana Silva", "age": 34})},
    {"role": "user", "content": "a complaint"},
    {"role": "assistant", "content": json.dumps({"issue": "refund", "urgent": True})},
)


def ask(text: str, schema=None, seed: int = 1, max_tokens: int = 80, **kw) -> GenerationRequest:
    return GenerationRequest(messages=FEW_SHOT + ({"role": "user", "content": text},), json_schema=schema,
                             max_tokens=max_tokens, seed=seed, **kw)


# -- no model needed ------------------------------------------------------------------------------

def test_batching_is_opt_in_and_the_engine_follows_its_width():
    assert LlamaCppModel().batch == 1  # measured: no gain on a 2-core AVX2 machine (docs/benchmarks_batched.md)
    assert EngineSettings().concurrency is None
    assert default_concurrency(LlamaCppLLM(LlamaCppModel(batch=4))) == 4
    assert default_concurrency(LlamaCppLLM(LlamaCppModel(batch=1))) == 1
    assert default_concurrency(object()) == 8  # a backend that does not say


def test_a_call_cached_in_one_mode_is_not_replayed_in_the_other():
    single, batched = LlamaCppLLM(LlamaCppModel(batch=1)), LlamaCppLLM(LlamaCppModel(batch=8))
    assert "#batched" in batched.identity and "#batched" not in single.identity
    req = ask("a customer")
    assert cache_key(single.identity, req) != cache_key(batched.identity, req)
    # the width itself does not change what a request is: widths share the cache
    assert LlamaCppLLM(LlamaCppModel(batch=16)).identity == batched.identity


# -- on the bundled model ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batched():
    backend = LlamaCppLLM(LlamaCppModel(batch=4))
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def single():
    backend = LlamaCppLLM(LlamaCppModel(batch=1))
    yield backend
    asyncio.run(backend.aclose())


@pytest.mark.model
def test_batched_and_single_decoding_both_produce_valid_records_for_the_same_schemas(batched, single):
    reqs = [ask(f"record {i}", SCHEMAS[name], seed=i, max_tokens=120)
            for i, name in enumerate(sorted(SCHEMAS) * 2)]

    async def concurrently(llm):  # as the engine calls it: one request per slot, all slots in flight
        return await asyncio.gather(*(llm.generate([r]) for r in reqs))

    out_b = [r for (r,) in asyncio.run(concurrently(batched))]
    out_s = single.generate_sync(reqs)
    for req, b, s in zip(reqs, out_b, out_s):
        for r in (b, s):
            assert r.ok, r.error
            assert r.finish_reason == "stop" and json.loads(r.text) == r.parsed
            jsonschema.validate(r.parsed, req.json_schema)
            assert 0 < r.completion_tokens < 120 and r.prompt_tokens > 0 and r.latency_s > 0
        assert b.prompt_tokens == s.prompt_tokens
    assert all(r.model == batched.identity for r in out_b)
    # several sequences really shared steps: more sampled rows than llama_decode calls
    stats = batched._decoder.stats
    assert stats.rows > 1.5 * stats.steps, stats
    same = sum(b.text == s.text for b, s in zip(out_b, out_s))
    print(f"identical to single-sequence: {same}/{len(reqs)}")


@pytest.mark.model
def test_the_shared_prefix_is_evaluated_once_for_n_requests(batched):
    n = 7  # more than the width (4): later requests take freed slots
    reqs = [ask(f"a customer called {name}", SCHEMAS["bounded"], seed=i, max_tokens=40)
            for i, name in enumerate(["Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal"][:n])]
    tokens = [batched._prepare(r).tokens for r in reqs]
    shared = min(_common_prefix(tokens[0], t) for t in tokens[1:])
    assert shared > 60  # the system text and the examples
    batched._batched().close()
    batched._decoder = None  # a fresh decoder: nothing kept from earlier tests
    results = batched.generate_sync(reqs)
    assert all(r.ok for r in results), [r.error for r in results]
    stats = batched._decoder.stats
    # taken up to a chunk end, as the single path takes a prefix (the cells then match its cells)
    shared = reusable(chunk_ends(tokens[0], batched._decoder.m.breaks), shared)
    assert shared > 30
    # the prefix once, then only each request's own tail
    assert stats.prompt_tokens == sum(len(t) for t in tokens)
    assert stats.prompt_evaluated == len(tokens[0]) + sum(len(t) - shared for t in tokens[1:])
    assert stats.prefix_shared == (n - 1) * shared
    # a request that comes later, alone, still finds the prefix in a freed slot's kept cells
    before = stats.prompt_evaluated
    (late,) = batched.generate_sync([ask("a customer called Ivy", SCHEMAS["bounded"], seed=9, max_tokens=40)])
    assert late.ok
    assert stats.prompt_evaluated - before == late.prompt_tokens - shared


@pytest.mark.model
def test_batched_keeps_finish_reasons_stops_and_cutoffs(batched):
    free, cut, stopped, json_cut = batched.generate_sync([
        GenerationRequest(prompt="Monday, Tuesday, Wednesday,", max_tokens=12, temperature=0.0),
        GenerationRequest(prompt="Count: one, two, three,", max_tokens=3, temperature=0.0),
        GenerationRequest(prompt="Monday, Tuesday, Wednesday,", max_tokens=40, temperature=0.0, stop=("Friday",)),
        ask("a long story", {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]},
            max_tokens=5),
    ])
    assert free.ok and "Thursday" in free.text and free.finish_reason in ("stop", "length")
    assert cut.finish_reason == "length" and cut.completion_tokens == 3 and cut.parsed is None
    assert stopped.finish_reason == "stop" and "Friday" not in stopped.text and "Thursday" in stopped.text
    assert json_cut.finish_reason == "length" and json_cut.completion_tokens == 5
    assert json_cut.parsed is None and "max_tokens" in json_cut.error


@pytest.mark.model
def test_batched_is_reproducible_for_the_same_batch_and_too_long_prompt_is_an_error(batched):
    # llama.cpp's CPU kernels sum in another order when a step carries several tokens, so a sequence's
    # logits depend a little on its batch mates (measured: up to ~0.3 in a logit); the same requests in
    # the same batch give the same outputs, and seeds still differ
    schema = SCHEMAS["bounded"]
    reqs = [ask("another record", schema, seed=s, temperature=1.0, max_tokens=60) for s in (1, 2, 3, 4)]
    runs = []
    for _ in range(2):
        batched._batched().close()
        batched._decoder = None
        runs.append([r.text for r in batched.generate_sync(reqs)])
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 1
    small = LlamaCppLLM(LlamaCppModel(batch=2, n_ctx=64))
    try:
        (r,) = small.generate_sync([ask("x" * 50, schema)])
        assert r.finish_reason == "error" and "model.n_ctx=64" in r.error
    finally:
        small._unload()
