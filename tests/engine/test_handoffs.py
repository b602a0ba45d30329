"""The engine's hand-offs, as declared: Generator.gates(), GateContext.target and .model(), routing (Routed)."""
from __future__ import annotations

import asyncio

import pytest

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.config.models import OpenAIModel
from synthloom.engine import RunStore, run_recipe
from synthloom.engine.cache import CachedLLM, UsageMeter
from synthloom.engine.cost import budgeted
from synthloom.errors import InputFileError
from synthloom.generators.base import Generator
from synthloom.llm.pool import ModelPool
from synthloom.llm.types import GenerationRequest, Routed, router
from synthloom.quality.base import GateContext, GateModels, ModelGate
from synthloom.quality.judge import JudgeGate

SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"]}
JUDGE_MODEL = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "j"}


def test_a_technique_without_gates_declares_none():
    class Bare(Generator):
        technique = "bare"

        async def produce(self, slot, ctx):
            return []

        def describe(self):
            return {}

    assert Bare().gates() == [] and Bare().expected_yield is None


def test_a_pool_routes_and_every_wrapper_passes_the_routing_through(tmp_path):
    a, b = ScriptedLLM(lambda r: "a", identity="fake:a"), ScriptedLLM(lambda r: "b", identity="fake:b")
    pool = ModelPool([(a, 1), (b, 1)])
    assert isinstance(pool, Routed) and not isinstance(a, Routed)
    with RunStore(tmp_path / "store.sqlite") as store:
        guard = budgeted(10.0, {"fake:a": {"input": 1, "output": 1}}, 0.0)
        wrapped = CachedLLM(guard(pool), store, UsageMeter())
        reqs = [GenerationRequest(prompt=f"p{i}", seed=i) for i in range(20)]
        assert [router(wrapped)(r) for r in reqs] == [pool.for_request(r) for r in reqs]
        assert {router(wrapped)(r).identity for r in reqs} == {"fake:a", "fake:b"}
        assert router(a)(reqs[0]) is a  # a plain backend serves every request itself


def test_the_same_model_block_is_built_once_and_closed_with_the_others(monkeypatch):
    import synthloom.llm.factory as factory

    built, closed = [], []

    class Backend(ScriptedLLM):
        async def aclose(self):
            closed.append(self.identity)

    def build(cfg):
        built.append(cfg.model)
        return Backend(lambda r: {"rationale": "ok", "score": 5}, identity=f"fake:{cfg.model}")
    monkeypatch.setattr(factory, "build_backend", build)
    ctx = GateContext(llm=ScriptedLLM(lambda r: "run"), target=7)
    one, other = OpenAIModel(**JUDGE_MODEL), OpenAIModel(**{**JUDGE_MODEL, "model": "k"})
    assert ctx.model(one) is ctx.model(OpenAIModel(**JUDGE_MODEL)) and ctx.model(other) is not ctx.model(one)
    assert ctx.model(None) is ctx.llm and ctx.target == 7
    assert built == ["j", "k"]
    asyncio.run(ctx.models.aclose())
    assert sorted(closed) == ["fake:j", "fake:k"] and ctx.models.backends == []


def test_a_judge_with_a_model_block_is_a_model_gate_and_uses_the_wrapped_model():
    gate = JudgeGate(model=OpenAIModel(**JUDGE_MODEL))
    assert isinstance(gate, ModelGate) and gate.own_model.model == "j"
    seen = []
    wrapped = ScriptedLLM(lambda r: seen.append(r) or {"rationale": "fine", "score": 4}, identity="wrapped:j")
    models = GateModels(build=lambda cfg: ScriptedLLM(lambda r: "raw"), wrap=lambda backend: wrapped)
    from synthloom.records import Record

    out = asyncio.run(gate.check(Record({"body": "x"}), GateContext(models=models)))
    assert out.meta["scores"]["judge"] == 4 and len(seen) == 1


def test_a_judge_model_that_cannot_load_fails_before_any_generation(tmp_path):
    gen = ScriptedLLM(lambda req: {"subject": f"Ticket {req.seed}"})
    r = Recipe.model_validate({
        "count": 3, "generate": {"technique": "schema", "schema": SCHEMA},
        "quality": [{"gate": "judge", "model": {"backend": "llamacpp", "path": str(tmp_path / "missing.gguf")}}],
    })
    with pytest.raises(InputFileError, match="missing.gguf"):
        run_recipe(r, output=tmp_path / "o.jsonl", llm=gen)
    assert gen.requests == []  # nothing generated for a run that could not judge it
    with RunStore(tmp_path / "o.run" / "store.sqlite") as st:
        assert st.run_info()["status"] == "failed"


def test_the_run_gives_its_target_to_the_gates(tmp_path):
    r = Recipe.model_validate({
        "count": 4, "generate": {"technique": "schema", "schema": SCHEMA,
                                 "attributes": {"tone": ["polite", "polite", "polite", "angry"]}},
        "quality": [{"gate": "diversity", "attributes": ["tone"], "max_share": 0.5}],
        "engine": {"concurrency": 1},
    })
    s = run_recipe(r, output=tmp_path / "o.jsonl", llm=ScriptedLLM(lambda req: {"subject": f"Ticket {req.seed}"}))
    with RunStore(tmp_path / "o.run" / "store.sqlite") as st:
        tones = sorted(rec.meta["attributes"]["tone"] for rec in st.accepted_records())
        details = {rej.detail for rej in st.rejections()}
    assert s.accepted == 4 and tones == ["angry", "angry", "polite", "polite"]
    assert details == {"tone='polite' already has 2 accepted records, the most max_share 50% of 4 allows"}
