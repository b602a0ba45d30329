"""The model pool: weighted, deterministic routing; results carry the serving member's identity."""
from __future__ import annotations

import pytest

from synthloom.config.models import OpenAIModel
from synthloom.errors import BackendAuthError, RecipeError
from synthloom.llm.factory import build_llm
from synthloom.llm.openai_compat import OpenAICompatLLM
from synthloom.llm.pool import ModelPool
from synthloom.llm.types import LLM, GenerationRequest

from ..fakes import ScriptedLLM


def req(i: int) -> GenerationRequest:
    return GenerationRequest(messages=({"role": "user", "content": f"item {i}"},), seed=i)


def two_models(wa=3.0, wb=1.0):
    a = ScriptedLLM(lambda r: "from a", identity="fake:a")
    b = ScriptedLLM(lambda r: "from b", identity="fake:b")
    return a, b, ModelPool([(a, wa), (b, wb)])


async def test_requests_are_spread_by_weight_and_keep_their_order():
    a, b, pool = two_models(3, 1)
    assert isinstance(pool, LLM)
    results = await pool.generate([req(i) for i in range(2000)])
    assert len(a.requests) + len(b.requests) == 2000
    assert 0.70 < len(a.requests) / 2000 < 0.80
    for i, r in enumerate(results):  # each result is the member's, in request order
        member = pool.for_request(req(i))
        assert r.model == member.identity and r.text == ("from a" if member is a else "from b")


async def test_routing_is_deterministic_across_pools():
    _, _, pool1 = two_models()
    _, _, pool2 = two_models()
    first = [pool1.for_request(req(i)).identity for i in range(200)]
    again = [pool2.for_request(req(i)).identity for i in range(200)]
    assert first == again and set(first) == {"fake:a", "fake:b"}


def test_pool_identity_lists_members_and_weights():
    _, _, pool = two_models(2, 0.5)
    assert pool.identity == "pool[fake:a*2,fake:b*0.5]"


def test_bad_pools_are_refused():
    with pytest.raises(RecipeError):
        ModelPool([])
    with pytest.raises(RecipeError, match="weight"):
        ModelPool([(ScriptedLLM(lambda r: ""), 0)])


async def test_a_member_failing_hard_fails_the_batch():
    class Refusing(ScriptedLLM):
        async def generate(self, requests):
            raise BackendAuthError("refused: set OPENAI_API_KEY")

    good = ScriptedLLM(lambda r: "ok", identity="fake:good")
    pool = ModelPool([(good, 1), (Refusing(lambda r: "", identity="fake:bad"), 1)])
    with pytest.raises(BackendAuthError):
        await pool.generate([req(i) for i in range(20)])


def test_factory_builds_one_backend_or_a_pool():
    one = OpenAIModel(backend="openai", base_url="http://127.0.0.1:9/v1", model="a")
    two = OpenAIModel(backend="openai", base_url="http://127.0.0.1:9/v1", model="b", weight=2)
    llm = build_llm([one])
    assert isinstance(llm, OpenAICompatLLM) and llm.identity == "openai:http://127.0.0.1:9/v1#a"
    pool = build_llm([one, two])
    assert isinstance(pool, ModelPool)
    assert pool.identity == "pool[openai:http://127.0.0.1:9/v1#a*1,openai:http://127.0.0.1:9/v1#b*2]"


async def test_a_pool_of_two_servers_models_routes_by_weight():
    from ..helpers.fake_openai import FakeOpenAI

    server = await FakeOpenAI().start()
    try:
        small = OpenAIModel(backend="openai", base_url=server.base_url, model="small", api_key_env=None, weight=1)
        big = OpenAIModel(backend="openai", base_url=server.base_url, model="big", api_key_env=None, weight=3)
        pool = build_llm([small, big])
        results = await pool.generate([req(i) for i in range(200)])
        await pool.aclose()
    finally:
        await server.stop()
    sent = [b["model"] for b in server.bodies]
    assert 0.65 < sent.count("big") / 200 < 0.85
    assert sorted(r.model.rsplit("#", 1)[1] for r in results) == sorted(sent)
    for i, r in enumerate(results):
        assert r.model == pool.for_request(req(i)).identity


def test_factory_defaults_to_the_bundled_model_and_mixes_backends():
    pytest.importorskip("llama_cpp")
    from synthloom.config.models import LlamaCppModel
    from synthloom.llm.llamacpp import LlamaCppLLM

    default = build_llm([])
    assert isinstance(default, LlamaCppLLM) and default.identity.startswith("llamacpp:")
    mixed = build_llm([LlamaCppModel(weight=1), OpenAIModel(backend="openai", base_url="http://127.0.0.1:9/v1",
                                                           model="big", weight=4)])
    assert isinstance(mixed, ModelPool)
    assert mixed.identity == f"pool[{default.identity}*1,openai:http://127.0.0.1:9/v1#big*4]"


class _Base:
    """A backend that says it continues plain text (a base model)."""

    identity = "base"
    prompt_style = "completion"


def test_style_of_sees_through_wrappers_and_pools(tmp_path):
    from synthloom.engine.cache import CachedLLM, UsageMeter
    from synthloom.llm.render import style_of
    from synthloom.runs.store import RunStore

    chat = ScriptedLLM([])
    assert style_of(chat) == "chat"  # says nothing: asked in chat turns, as before
    assert style_of(_Base()) == "completion"
    store = RunStore(tmp_path / "store.sqlite")
    assert style_of(CachedLLM(_Base(), store, UsageMeter())) == "completion"
    assert style_of(ModelPool([(_Base(), 1.0), (_Base(), 2.0)])) == "completion"
    assert style_of(ModelPool([(_Base(), 1.0), (chat, 1.0)])) == "chat"  # one chat member: chat for all


@pytest.mark.model
def test_the_bundled_model_reads_completion_prompts_known_before_it_loads():
    from synthloom.llm.llamacpp import LlamaCppLLM
    from synthloom.llm.render import style_of

    llm = LlamaCppLLM()
    assert style_of(llm) == "completion"  # a base GGUF: its metadata says no instruction tuning
    assert llm._loaded is None  # read from the vocabulary, weights not loaded
