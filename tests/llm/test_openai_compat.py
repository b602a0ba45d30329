"""The openai backend against a scripted aiohttp server on 127.0.0.1 (faults, retries, structured output)."""
from __future__ import annotations

import email.utils
import logging
import socket
import time

import pytest

from synthloom.config.models import OpenAIModel
from synthloom.errors import BackendAuthError, BackendConnectionError, BackendError
from synthloom.llm import openai_compat
from synthloom.llm.http_answers import retry_after
from synthloom.llm.openai_compat import OpenAICompatLLM
from synthloom.llm.types import LLM, GenerationRequest

from ..helpers.fake_openai import FakeOpenAI

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
SECRET = "sk-test-VERY-SECRET-0123456789"


@pytest.fixture
async def server():
    srv = await FakeOpenAI().start()
    yield srv
    await srv.stop()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(openai_compat, "_BACKOFF_BASE_S", 0.01)


def make(server: FakeOpenAI, **kw) -> OpenAICompatLLM:
    cfg = OpenAIModel(backend="openai", base_url=server.base_url, model="m", **kw)
    return OpenAICompatLLM(cfg)


def chat(text="hi", **kw) -> GenerationRequest:
    return GenerationRequest(messages=({"role": "user", "content": text},), **kw)


async def test_chat_text_usage_and_identity(server):
    llm = make(server, api_key_env=None)
    assert isinstance(llm, LLM)
    [res] = await llm.generate([chat(seed=3, stop=("\n\n",))])
    await llm.aclose()
    assert res.ok and res.text == '{"text": "hello"}' and res.parsed is None
    assert (res.prompt_tokens, res.completion_tokens, res.finish_reason) == (7, 5, "stop")
    assert res.model == llm.identity == f"openai:{server.base_url}#m"
    body = server.bodies[0]
    assert body["model"] == "m" and body["seed"] == 3 and body["stop"] == ["\n\n"]
    assert body["messages"] == [{"role": "user", "content": "hi"}] and "response_format" not in body


async def test_prompt_goes_to_completions_and_length_is_mapped(server):
    llm = make(server)
    [res] = await llm.generate([GenerationRequest(prompt="Once upon", max_tokens=9)])
    await llm.aclose()
    assert server.bodies[0]["prompt"] == "Once upon" and server.bodies[0]["max_tokens"] == 9
    assert res.finish_reason == "length" and res.text == '{"text": "hello"}'


async def test_many_requests_keep_their_order(server):
    server.content = "x"
    llm = make(server, max_concurrency=4)
    results = await llm.generate([chat(f"q{i}") for i in range(40)])
    await llm.aclose()
    assert len(results) == 40 and all(r.ok for r in results)
    assert sorted(b["messages"][0]["content"] for b in server.bodies) == sorted(f"q{i}" for i in range(40))


async def test_429_with_retry_after_is_honoured(server):
    server.script = [(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})]
    llm = make(server)
    t = time.perf_counter()
    [res] = await llm.generate([chat()])
    elapsed = time.perf_counter() - t
    await llm.aclose()
    assert res.ok and res.text and len(server.bodies) == 2
    assert elapsed >= 0.9


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after("7") == 7.0
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after(date) <= 31
    assert retry_after("garbage") is None and retry_after(None) is None


async def test_500_then_success(server):
    server.script = [500, 503]
    llm = make(server)
    [res] = await llm.generate([chat()])
    await llm.aclose()
    assert res.ok and len(server.bodies) == 3


async def test_persistent_5xx_gives_an_error_result_after_max_retries(server):
    server.script = [502] * 10
    llm = make(server, max_retries=2)
    [res] = await llm.generate([chat()])
    await llm.aclose()
    assert not res.ok and res.finish_reason == "error" and "HTTP 502" in res.error
    assert len(server.bodies) == 3


async def test_401_raises_auth_error_without_the_key(server, monkeypatch, caplog):
    monkeypatch.setenv("SYNTHLOOM_TEST_KEY", SECRET)
    server.script = [(401, {"error": {"message": "Incorrect API key provided"}}, {})]
    llm = make(server, api_key_env="SYNTHLOOM_TEST_KEY")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendAuthError) as exc:
        await llm.generate([chat()])
    await llm.aclose()
    assert server.headers[0]["Authorization"] == f"Bearer {SECRET}"  # the key was sent
    msg = str(exc.value)
    assert "SYNTHLOOM_TEST_KEY" in msg and "Incorrect API key" in msg
    assert len(server.bodies) == 1  # not retried
    for text in (msg, repr(exc.value), llm.identity, repr(llm), caplog.text):
        assert SECRET not in text and SECRET[-10:] not in text


async def test_401_with_missing_env_var_says_which_to_set(server, monkeypatch):
    monkeypatch.delenv("SYNTHLOOM_MISSING_KEY", raising=False)
    server.script = [403]
    llm = make(server, api_key_env="SYNTHLOOM_MISSING_KEY")
    with pytest.raises(BackendAuthError, match="SYNTHLOOM_MISSING_KEY is not set"):
        await llm.generate([chat()])
    await llm.aclose()
    assert "Authorization" not in server.headers[0]


async def test_other_4xx_raises_backend_error_with_server_message(server):
    server.script = [(404, {"error": {"message": "model 'm' not found"}}, {})]
    llm = make(server)
    with pytest.raises(BackendError, match="model 'm' not found"):
        await llm.generate([chat(), chat("b")])
    await llm.aclose()


async def test_connection_refused_raises_connection_error():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    cfg = OpenAIModel(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1)
    llm = OpenAICompatLLM(cfg)
    with pytest.raises(BackendConnectionError) as exc:
        await llm.generate([chat()])
    await llm.aclose()
    assert f"127.0.0.1:{port}/v1" in str(exc.value) and "server is running" in str(exc.value)


async def test_json_schema_response_format_and_parsing(server):
    server.content = '```json\n{"text": "fenced"}\n```'
    llm = make(server)
    [res] = await llm.generate([chat(json_schema=SCHEMA)])
    await llm.aclose()
    rf = server.bodies[0]["response_format"]
    assert rf == {"type": "json_schema", "json_schema": {"name": "record", "schema": SCHEMA, "strict": True}}
    assert res.parsed == {"text": "fenced"}


async def test_unparseable_json_gives_parsed_none(server):
    server.content = "I cannot do that"
    llm = make(server)
    [res] = await llm.generate([chat(json_schema=SCHEMA)])
    await llm.aclose()
    assert res.parsed is None and res.text == "I cannot do that"
    # read as llama.cpp's replies are (llm/jsontext): not a failed call, a reply that is not JSON
    assert res.error_kind == "invalid_json" and res.finish_reason == "stop" and "not valid JSON" in res.error


async def test_json_schema_rejected_falls_back_and_remembers(server):
    def picky(body):
        rf = body.get("response_format")
        if rf is not None:  # a server with no structured output at all
            return (422, {"detail": [{"loc": ["body", "response_format", "type"],
                                      "msg": "Input should be 'text'"}]}, {})
        return 200

    server.script = [picky] * 20
    llm = make(server)
    [res] = await llm.generate([chat(json_schema=SCHEMA)])
    kinds = [b.get("response_format", {}).get("type") for b in server.bodies]
    assert kinds == ["json_schema", "json_schema", "json_object", "json_object", None]
    assert [server.bodies[i]["response_format"]["json_schema"]["strict"] for i in (0, 1)] == [True, False]
    assert "schema" in server.bodies[2]["response_format"] and "schema" not in server.bodies[3]["response_format"]
    assert res.parsed == {"text": "hello"}
    # the prompt fallback states the schema in a system message
    last = server.bodies[-1]["messages"][-1]
    assert last["role"] == "system" and "JSON only" in last["content"] and '"required":["text"]' in last["content"]
    # remembered: the next batch goes straight to the prompt fallback
    server.bodies.clear()
    results = await llm.generate([chat(json_schema=SCHEMA) for _ in range(3)])
    await llm.aclose()
    assert all(r.parsed == {"text": "hello"} for r in results)
    assert len(server.bodies) == 3 and all("response_format" not in b for b in server.bodies)


async def test_json_object_with_schema_is_used_when_json_schema_is_not(server):
    def llama_cpp_like(body):  # llama-cpp-python's server: type json_object + schema
        if body.get("response_format", {}).get("type") == "json_schema":
            return (422, {"detail": [{"loc": ["body", "response_format", "type"],
                                      "msg": "Input should be 'text' or 'json_object'"}]}, {})
        return 200

    server.script = [llama_cpp_like] * 5
    llm = make(server)
    await llm.generate([chat(json_schema=SCHEMA)])
    await llm.generate([chat(json_schema=SCHEMA)])
    await llm.aclose()
    kinds = [b["response_format"]["type"] for b in server.bodies]
    assert kinds == ["json_schema", "json_schema", "json_object", "json_object"]
    assert server.bodies[3]["response_format"]["schema"] == SCHEMA


async def test_forced_json_schema_mode_does_not_fall_back(server):
    server.script = [(400, {"error": {"message": "response_format json_schema is not supported"}}, {})] * 2
    llm = make(server, structured_output="json_schema")
    with pytest.raises(BackendError, match="not supported"):
        await llm.generate([chat(json_schema=SCHEMA)])
    await llm.aclose()


async def test_injected_session_is_used_as_is(server):
    import aiohttp

    async with aiohttp.ClientSession(headers={"X-Test": "yes"}) as session:
        cfg = OpenAIModel(backend="openai", base_url=server.base_url, model="m")
        llm = OpenAICompatLLM(cfg, session=session)
        [res] = await llm.generate([chat()])
        await llm.aclose()
        assert not session.closed and res.ok
    assert server.headers[0]["X-Test"] == "yes"


def test_identity_hides_credentials_in_base_url():
    cfg = OpenAIModel(backend="openai", base_url="http://user:pw@host:8000/v1/", model="m")
    llm = OpenAICompatLLM(cfg)
    assert llm.identity == "openai:http://host:8000/v1#m" and "pw" not in repr(llm)


async def test_a_500_that_names_response_format_is_a_refusal_not_a_retry(server):
    # llama-cpp-python's server answers an unknown response_format type with a 500 and the validation error
    def llama_cpp_server(body):
        if body.get("response_format", {}).get("type") == "json_schema":
            return (500, {"error": {"message": "1 validation error: {'loc': ('body', 'response_format', 'type'), "
                                               "'msg': \"Input should be 'text' or 'json_object'\"}"}}, {})
        return 200

    server.script = [llama_cpp_server] * 3
    llm = make(server)
    [res] = await llm.generate([chat(json_schema=SCHEMA)])
    await llm.aclose()
    assert res.parsed == {"text": "hello"}
    assert [b["response_format"]["type"] for b in server.bodies] == ["json_schema", "json_schema", "json_object"]


async def test_a_plain_500_is_still_retried_in_structured_mode(server):
    server.script = [(500, {"error": {"message": "CUDA out of memory"}}, {})]
    llm = make(server)
    [res] = await llm.generate([chat(json_schema=SCHEMA)])
    await llm.aclose()
    assert res.ok and [b["response_format"]["type"] for b in server.bodies] == ["json_schema", "json_schema"]


async def test_a_key_echoed_by_the_server_is_scrubbed(server, monkeypatch):
    monkeypatch.setenv("SYNTHLOOM_TEST_KEY", SECRET)
    server.script = [(400, {"error": {"message": f"bad request from key {SECRET}"}}, {})]
    llm = make(server, api_key_env="SYNTHLOOM_TEST_KEY")
    with pytest.raises(BackendError) as exc:
        await llm.generate([chat()])
    await llm.aclose()
    assert SECRET not in str(exc.value) and "***" in str(exc.value)


def test_a_base_url_without_scheme_is_a_recipe_error():
    from synthloom.errors import RecipeError

    with pytest.raises(RecipeError, match="base_url must be an http"):
        OpenAICompatLLM(OpenAIModel(backend="openai", base_url="127.0.0.1:8000/v1", model="m"))


async def test_a_slow_server_times_out_into_an_error_result(server):
    server.delay = 0.3
    llm = make(server, timeout_s=0.1, max_retries=1)
    [res] = await llm.generate([chat()])
    await llm.aclose()
    assert not res.ok and "timed out after 0.1 s" in res.error and res.finish_reason == "error"
    assert len(server.bodies) == 2  # tried, then retried once


async def test_strict_schema_refused_then_loose_json_schema_is_used(server):
    def openai_like(body):  # OpenAI refuses strict mode for schemas without additionalProperties: false
        js = body["response_format"]["json_schema"]
        if js["strict"]:
            return (400, {"error": {"message": "Invalid schema for response_format 'record': "
                                               "'additionalProperties' is required to be supplied and to be false"}}, {})
        return 200

    server.script = [openai_like] * 3
    llm = make(server)
    [res] = await llm.generate([chat(json_schema=SCHEMA)])
    await llm.aclose()
    assert res.parsed == {"text": "hello"}
    assert [b["response_format"]["json_schema"]["strict"] for b in server.bodies] == [True, False]
    assert all(m["role"] != "system" for m in server.bodies[1]["messages"])


async def test_max_completion_tokens_and_unsupported_temperature_are_learnt(server):
    def reasoning_model(body):
        if "max_tokens" in body:
            return (400, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                                               "model. Use 'max_completion_tokens' instead."}}, {})
        if "temperature" in body:
            return (400, {"error": {"message": "Unsupported value: 'temperature' does not support 0.8 with this "
                                               "model. Only the default (1) value is supported."}}, {})
        return 200

    server.script = [reasoning_model] * 6
    llm = make(server)
    [res] = await llm.generate([chat(max_tokens=33)])
    [res2] = await llm.generate([chat()])
    await llm.aclose()
    assert res.ok and res2.ok
    assert len(server.bodies) == 4  # two refusals, then each request once
    last = server.bodies[-1]
    assert last["max_completion_tokens"] == 512 and "max_tokens" not in last and "temperature" not in last
    assert server.bodies[2]["max_completion_tokens"] == 33


async def test_a_value_at_its_max_length_is_marked_truncated(server):
    """A server that enforces the schema closes a string at maxLength; the result names the field."""
    bounded = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 12}}, "required": ["text"]}
    llm = make(server)
    server.content = '{"text": "Please refun"}'
    [cut] = await llm.generate([chat(json_schema=bounded)])
    server.content = '{"text": "Refund me"}'
    [whole] = await llm.generate([chat("again", json_schema=bounded)])
    await llm.aclose()
    assert cut.truncated == ("text",) and whole.truncated == ()
