"""The `openai` backend: any OpenAI-compatible HTTP server (OpenAI, vLLM, Ollama, llama.cpp's server).

aiohttp, chosen by measurement (bench/peers: ~5,900 req/s at concurrency 64 against
a 0 ms stub, where httpx 0.28 reached ~233). One session per backend, a connector
sized to `max_concurrency`, keep-alive, and an adaptive limit (llm/adaptive.py, AIMD)
that bounds the requests in flight across every `generate` call on this instance:
`max_concurrency` while the server keeps up, halved on 429/503/504/timeouts, grown back
by about one per round of successes; a refused request waits out its `Retry-After` (and
every request does, once the limit is down to one).

Failures:
  401/403                       -> BackendAuthError at once (names the env var, never the key)
  429, 5xx, 408, timeouts       -> retried with exponential backoff + jitter, honouring
                                   Retry-After; after `max_retries` the request's result
                                   carries `error` (the engine records a rejection)
  connection refused / reset    -> retried; then BackendConnectionError naming base_url
  a 400 naming a parameter the  -> adapted once per backend and resent (max_completion_tokens
  model refuses                    for max_tokens; temperature/top_p/seed/stop left out)
  other 4xx                     -> BackendError with the server's own message

Structured output (`request.json_schema`), `structured_output: auto`, tries in turn
  json_schema   response_format {"type": "json_schema", "json_schema": {name, schema, strict: true}}
  json_schema   the same with strict: false (OpenAI's strict mode refuses some schemas)
  json_object   response_format {"type": "json_object", "schema": ...}  (llama-cpp-python's form)
  json_object   response_format {"type": "json_object"}
  prompt        no response_format; the schema goes into a system instruction
and falls one step down, for the rest of this instance's life, each time the server
rejects a `response_format` (a 4xx, or a 500 naming it). In the last three the schema
is also stated in a system message ("reply with JSON only"), as OpenAI's json_object
mode requires. The reply is read by `llm/jsontext.read_reply`, as llama.cpp's is: `result.parsed`
(code fences and chatter tolerated), or `error_kind` "invalid_json"/"truncated" when it is not
JSON; validating it against the schema is the generator's job.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

import aiohttp
import orjson
import yarl

from ..config.models import OpenAIModel
from ..errors import BackendAuthError, BackendConnectionError, BackendError, RecipeError
from .adaptive import AdaptiveLimit
from .http_answers import redact_url, refuses_response_format, retry_after, server_message, to_dict
from .truncation import truncated_values
from .jsontext import read_reply
from .types import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_OVERLOAD_STATUS = frozenset({429, 503, 504})  # the server asks for less pressure: cut the limit
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0
_RETRY_AFTER_CAP_S = 300.0
_FINISH = {"stop": "stop", "length": "length", "eos": "stop", "tool_calls": "stop",
           "function_call": "stop", "end_turn": "stop", "max_tokens": "length", None: "stop"}

# structured-output ladder, best first
_MODES = ("json_schema", "json_schema_loose", "json_object_schema", "json_object", "prompt")
_LADDER = {
    "auto": _MODES,
    "json_schema": ("json_schema", "json_schema_loose"),
    "json_object": ("json_object_schema", "json_object"),
    "prompt": ("prompt",),
}
# a connect timeout means the server is unreachable, unlike a slow answer (aiohttp >= 3.10 tells them apart)
_CONNECT_TIMEOUT: Any = getattr(aiohttp, "ConnectionTimeoutError", ())

JSON_ONLY_INSTRUCTION = (
    "Reply with JSON only: one JSON value that conforms to the JSON schema below, "
    "with no explanation and no code fences.\nJSON schema:\n"
)


class _Fatal(Exception):
    """Wraps an error that must stop the whole batch (auth, bad request, unreachable)."""


class _Resend(Exception):
    """The request was adapted to what the server accepts; send it again."""


class _Rejected(Exception):
    """The server refused this response_format; step down the ladder and resend."""

    def __init__(self, level: int) -> None:
        self.level = level


class OpenAICompatLLM:
    """An OpenAI-compatible server as an `LLM`. Pass `session` to use your own aiohttp session as is."""

    def __init__(self, cfg: OpenAIModel, session: Any = None) -> None:
        self.cfg = cfg
        base = cfg.base_url.rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RecipeError(f"model.base_url must be an http:// or https:// URL such as "
                              f"http://127.0.0.1:8000/v1 (got {redact_url(base)!r})")
        self._base_url = redact_url(base)
        self._identity = f"openai:{self._base_url}#{cfg.model}"
        # parsed once: aiohttp takes yarl URLs as they are
        self._chat_url = yarl.URL(base + "/chat/completions")
        self._completion_url = yarl.URL(base + "/completions")
        self._key_env = cfg.api_key_env
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._has_key = bool(key)
        self._session = session
        self._own_session = session is None
        self._req_headers = None if session is None else self._headers
        self._loop: asyncio.AbstractEventLoop | None = None
        self.limiter: AdaptiveLimit | None = None
        self._timeout: Any = None
        self._ladder = _LADDER[cfg.structured_output]
        self._level = 0  # index into self._ladder; only moves down
        self._schema_text: dict[int, tuple[Any, str]] = {}
        # learnt from the server's refusals (e.g. OpenAI's reasoning models): field renames and omissions
        self._max_tokens_key = "max_tokens"
        self._dropped: set[str] = set()

    # -- the LLM protocol -------------------------------------------------------------------------

    @property
    def identity(self) -> str:
        return self._identity

    def __repr__(self) -> str:
        return f"OpenAICompatLLM({self._identity!r}, api_key_env={self._key_env!r})"

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if not requests:
            return []
        self._ensure_session()
        if len(requests) == 1:
            return [await self._guarded(requests[0])]
        tasks = [asyncio.ensure_future(self._guarded(r)) for r in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def aclose(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        if self._own_session:
            self._session = None

    # -- plumbing -------------------------------------------------------------------------------

    def _ensure_session(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and (self._session is not None and not self._session.closed):
            return
        if self._loop is not loop or self.limiter is None:
            self.limiter = AdaptiveLimit(self.cfg.max_concurrency)
            self._loop = loop
        self._timeout = aiohttp.ClientTimeout(total=self.cfg.timeout_s)
        if self._own_session and (self._session is None or self._session.closed
                                  or getattr(self._session, "_loop", loop) is not loop):
            connector = aiohttp.TCPConnector(limit=self.cfg.max_concurrency, limit_per_host=0,
                                             keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  headers=self._headers,
                                                  json_serialize=lambda v: orjson.dumps(v).decode())

    def _body(self, req: GenerationRequest, mode: str | None) -> tuple[str, dict[str, Any]]:
        cfg = self.cfg
        body: dict[str, Any] = {"model": cfg.model, self._max_tokens_key: req.max_tokens,
                                "temperature": req.temperature, "top_p": req.top_p}
        if req.seed is not None:
            body["seed"] = req.seed
        if req.stop:
            body["stop"] = req.stop
        for name in self._dropped:
            body.pop(name, None)
        schema = req.json_schema
        if req.messages is not None:
            url = self._chat_url
            messages = req.messages
            if schema is not None and mode not in ("json_schema", "json_schema_loose"):
                messages = (*messages, {"role": "system", "content": JSON_ONLY_INSTRUCTION + self._schema_str(schema)})
            body["messages"] = messages
        else:
            url = self._completion_url
            body["prompt"] = req.prompt or ""
        if schema is not None:
            if mode == "json_schema" or mode == "json_schema_loose":
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "record", "schema": schema, "strict": mode == "json_schema"}}
            elif mode == "json_object_schema":
                body["response_format"] = {"type": "json_object", "schema": schema}
            elif mode == "json_object":
                body["response_format"] = {"type": "json_object"}
        return url, body

    def _schema_str(self, schema: Mapping[str, Any]) -> str:
        # requests of one recipe share one schema object: serialise it once (keep it alive so its id stays unique)
        hit = self._schema_text.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        text = orjson.dumps(schema, default=to_dict).decode()
        if len(self._schema_text) < 256:
            self._schema_text[id(schema)] = (schema, text)
        return text

    async def _guarded(self, req: GenerationRequest) -> GenerationResult:
        while True:
            try:
                return await self._send(req, self._level)
            except _Resend:
                continue
            except _Rejected as rej:
                if self._level == rej.level:  # not yet moved by a concurrent request
                    self._level += 1
                    log.info("%s rejected response_format %s; falling back to %s",
                             self._base_url, self._ladder[rej.level], self._ladder[self._level])

    async def _send(self, req: GenerationRequest, level: int) -> GenerationResult:
        mode = self._ladder[level] if req.json_schema is not None else None
        url, body = self._body(req, mode)
        data = orjson.dumps(body, default=to_dict)
        session = self._session
        attempts = self.cfg.max_retries + 1
        last_error = ""
        conn_failed = False
        limiter = self.limiter
        assert limiter is not None
        t0 = time.perf_counter()
        for attempt in range(attempts):
            wait: float | None = None
            overloaded = False
            # one place in flight per attempt: a request waiting out its backoff holds none
            epoch = await limiter.acquire()
            try:
                # our own session carries the headers already; an injected one gets them per request
                async with session.post(url, data=data, headers=self._req_headers,
                                        timeout=self._timeout) as resp:
                    status = resp.status
                    raw = await resp.read()
                    if status == 200:
                        limiter.success()
                        return self._result(req, raw, time.perf_counter() - t0)
                    message = self._scrub(server_message(status, raw))
                    if status in (401, 403):
                        raise BackendAuthError(self._auth_message(status, message))
                    if mode is not None and mode != "prompt" and level + 1 < len(self._ladder) \
                            and refuses_response_format(status, message):
                        raise _Rejected(level)
                    if status == 400 and self._adapt(message):
                        raise _Resend()
                    if status not in _RETRY_STATUS and status < 500:
                        raise BackendError(f"{self._base_url} answered HTTP {status} for model "
                                           f"'{self.cfg.model}': {message}")
                    wait = retry_after(resp.headers.get("Retry-After"))
                    last_error = f"HTTP {status}: {message}"
                    conn_failed = False
                    overloaded = status in _OVERLOAD_STATUS
            except _CONNECT_TIMEOUT as exc:
                last_error = f"connection timed out: {exc}"
                conn_failed = True
            except (asyncio.TimeoutError, TimeoutError):
                last_error = f"timed out after {self.cfg.timeout_s:g} s"
                conn_failed = False
                overloaded = True
            except (aiohttp.ClientConnectionError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                conn_failed = True
            except aiohttp.ClientPayloadError as exc:
                last_error = f"incomplete response: {exc}"
                conn_failed = False
            finally:
                limiter.release()
            if wait is not None:
                wait = min(wait, _RETRY_AFTER_CAP_S)
            if overloaded and limiter.overload(epoch, wait):
                log.warning("%s: %s; in flight limited to %d of %d", self._base_url, last_error,
                            limiter.current, limiter.max_limit)
            if attempt + 1 >= attempts:
                break
            if wait is None:
                wait = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** attempt) * (0.5 + random.random())
            log.warning("%s: %s; retry %d/%d in %.1f s", self._base_url, last_error,
                        attempt + 1, self.cfg.max_retries, wait)
            await asyncio.sleep(wait)
        if conn_failed:
            raise BackendConnectionError(
                f"cannot reach the OpenAI-compatible server at {self._base_url} "
                f"({last_error}, after {attempts} attempt(s)): check that the server is running "
                f"and that base_url is right")
        return GenerationResult(text="", finish_reason="error", latency_s=time.perf_counter() - t0,
                                model=self._identity,
                                error=f"{self._base_url}: {last_error} (after {attempts} attempt(s))")

    def _adapt(self, message: str) -> bool:
        """Learn from a 400 that names a sampling parameter the model does not take; True if adapted.

        OpenAI's reasoning models want `max_completion_tokens` instead of `max_tokens`, and
        refuse a non-default `temperature`/`top_p`; some servers refuse `seed`. Each change
        is made once per backend and logged.
        """
        text = message.lower()
        if "max_completion_tokens" in text and self._max_tokens_key == "max_tokens":
            self._max_tokens_key = "max_completion_tokens"
            log.info("%s wants max_completion_tokens instead of max_tokens; using it", self._base_url)
            return True
        if "unsupported" not in text and "not supported" not in text and "does not support" not in text:
            return False
        for name in ("temperature", "top_p", "seed", "stop"):
            if name not in self._dropped and (f"'{name}'" in text or f"`{name}`" in text or f'"{name}"' in text):
                self._dropped.add(name)
                log.info("%s does not support '%s' for model %s; leaving it out", self._base_url, name,
                         self.cfg.model)
                return True
        return False

    def _scrub(self, text: str) -> str:
        """A server may echo the key back in an error body: it must not travel further."""
        key = self._headers.get("Authorization", "")[7:]
        if key and len(key) >= 4 and key in text:
            text = text.replace(key, "***")
        return text

    def _auth_message(self, status: int, message: str) -> str:
        what = "refused the API key" if status == 401 else "denied access with the API key"
        if not self._key_env:
            fix = "set api_key_env in the recipe's model section to the environment variable holding the key"
        elif not self._has_key:
            fix = f"the environment variable {self._key_env} is not set: set it to your API key"
        else:
            fix = f"check the key in the environment variable {self._key_env}"
        return f"{self._base_url} {what} (HTTP {status}: {message}): {fix}"

    def _result(self, req: GenerationRequest, raw: bytes, latency: float) -> GenerationResult:
        try:
            data = orjson.loads(raw)
            choice = data["choices"][0]
            if req.messages is not None:
                text = (choice.get("message") or {}).get("content") or ""
            else:
                text = choice.get("text") or ""
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            return GenerationResult(text="", finish_reason="error", latency_s=latency, model=self._identity,
                                    error=f"{self._base_url}: unreadable response: {raw[:200]!r}")
        usage = data.get("usage") or {}
        reason = choice.get("finish_reason")
        finish = _FINISH.get(reason)
        error = kind = None
        if finish is None:
            finish, error, kind = ("error", f"stopped by the server: {reason}", "backend") \
                if reason == "content_filter" else ("stop", None, None)
        parsed = None
        if req.json_schema is not None and error is None:
            parsed, kind, error = read_reply(text, finish, req.json_schema)
        details = usage.get("prompt_tokens_details")  # OpenAI and vLLM report prompt-cache hits here
        cached = (details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
        # a server that enforces the schema closes a value at its maxLength/maxItems bound; it cannot
        # tell us whether the model wanted more, so every value exactly at its bound counts as cut
        truncated = truncated_values(text, parsed, req.json_schema) if parsed is not None else ()
        return GenerationResult(text=text, parsed=parsed, finish_reason=finish,
                                prompt_tokens=usage.get("prompt_tokens") or 0,
                                completion_tokens=usage.get("completion_tokens") or 0,
                                latency_s=latency, model=self._identity, error=error, error_kind=kind,
                                cached_prompt_tokens=cached if isinstance(cached, int) else 0, truncated=truncated)
