"""Providers' batch APIs: OpenAI's Files + Batches endpoints and Anthropic's Message Batches.

One small protocol, one class per provider; the orchestration (collecting requests, the run
store, polling, retries) is `llm/batch_llm.py`.

  line(custom_id, req)      one request as the provider wants it in a batch (bytes of JSON)
  endpoint(req)             a batch holds requests of one endpoint (OpenAI: chat or completions)
  upload(local_id, lines)   OpenAI: the JSONL input file -> its file id; Anthropic: nothing (None)
  create(local_id, file_id, lines) -> BatchInfo
  find(local_id, file_id, since, n, taken) -> BatchInfo | None
                            a batch this run created but did not hear back about (a crash between the
                            create and writing its id down): OpenAI by the metadata we set, Anthropic by
                            creation time and size; found, it is adopted instead of created again
  get(batch_id) -> BatchInfo; cancel(batch_id)
  results(info, requests)   every answer of an ended batch: (custom_id, GenerationResult or None, reason)

A request's reply body is read by the live backend's own reader (`OpenAICompatLLM._result`), so
parsing, `error_kind` and truncation are the same for a batch answer as for a live one.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, NamedTuple, Sequence

import aiohttp
import orjson

from ..config.models import OpenAIModel
from ..errors import BackendAuthError, BackendConnectionError, BackendError
from .http_answers import refuses_response_format, server_message
from .jsontext import read_reply
from .openai_compat import JSON_ONLY_INSTRUCTION, OpenAICompatLLM
from .types import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class BatchInfo:
    id: str
    status: str  # the provider's word: validating, in_progress, completed, expired, ended, ...
    ended: bool  # no answer will change any more: its results can be read
    counts: dict[str, int] = field(default_factory=dict)
    expires_at: float | None = None
    outputs: tuple[str, ...] = ()  # where its results are: OpenAI output and error file ids, Anthropic results_url
    note: str = ""  # why a whole batch failed (OpenAI's validation errors)


class Answer(NamedTuple):
    custom_id: str
    result: GenerationResult | None  # None: no answer; `reason` says why (the request is asked again)
    reason: str = ""  # expired | cancelled | failed | unreadable


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class _Http:
    """The provider's HTTP calls: retried on 429/5xx/connection errors, 401/403 and other 4xx raised at once."""

    def __init__(self, base_url: str, headers: dict[str, str], retries: int, timeout_s: float, session: Any) -> None:
        self.base = base_url.rstrip("/")
        self.headers, self.retries, self.timeout_s = headers, retries, timeout_s
        self.session, self.own = session, session is None

    async def call(self, method: str, url: str, *, json: Any = None, data: Any = None, retry: bool = True) -> bytes:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        url = url if url.startswith("http") else self.base + url
        body = orjson.dumps(json) if json is not None else data
        headers = {**self.headers, **({"Content-Type": "application/json"} if json is not None else {})}
        last = ""
        for attempt in range(self.retries + 1 if retry else 1):
            try:
                async with self.session.request(method, url, data=body, headers=headers) as resp:
                    raw = await resp.read()
                    if resp.status < 300:
                        return raw
                    message = server_message(resp.status, raw)
                    if resp.status in (401, 403):
                        raise BackendAuthError(f"{self.base} refused the API key for its batch API "
                                               f"(HTTP {resp.status}: {message}): check the key in the environment "
                                               "variable named by api_key_env")
                    if resp.status not in _RETRY_STATUS:
                        raise BackendError(f"{self.base}: {method} {url.split('?')[0]} answered HTTP {resp.status}: "
                                           f"{message}")
                    last = f"HTTP {resp.status}: {message}"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries and retry:
                await asyncio.sleep(min(30.0, 0.5 * 2 ** attempt) * (0.5 + random.random()))
        raise BackendConnectionError(f"{self.base}: {method} {url.split('?')[0]} failed ({last}); "
                                     "check that the server is running and that base_url is right")

    async def aclose(self) -> None:
        if self.own and self.session is not None and not self.session.closed:
            await self.session.close()


class OpenAIBatches:
    """OpenAI's Batch API: POST /files (purpose batch), POST /batches, GET /batches/{id}, GET /files/{id}/content."""

    name = "openai"
    max_requests = 50_000
    max_bytes = 190_000_000  # the input file may have 200 MB

    def __init__(self, cfg: OpenAIModel, live: OpenAICompatLLM, session: Any = None) -> None:
        self.cfg, self.live = cfg, live
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        self.http = _Http(cfg.base_url, {"Authorization": f"Bearer {key}"} if key else {}, cfg.max_retries,
                          cfg.timeout_s, session)

    def _mode(self, req: GenerationRequest) -> str | None:
        return self.live._ladder[self.live._level] if req.json_schema is not None else None

    def endpoint(self, req: GenerationRequest) -> str:
        return self.live._body(req, self._mode(req))[0].path

    def line(self, custom_id: str, req: GenerationRequest) -> bytes:
        url, body = self.live._body(req, self._mode(req))
        return orjson.dumps({"custom_id": custom_id, "method": "POST", "url": url.path, "body": body})

    async def upload(self, local_id: str, lines: Sequence[bytes]) -> str | None:
        content = b"\n".join(lines) + b"\n"
        for attempt in range(self.cfg.max_retries + 1):  # a form is sent once: a new one each try
            form = aiohttp.FormData()
            form.add_field("purpose", "batch")
            form.add_field("file", content, filename=f"synthloom-{local_id}.jsonl", content_type="application/jsonl")
            try:
                return orjson.loads(await self.http.call("POST", "/files", data=form, retry=False))["id"]
            except BackendConnectionError:  # a file uploaded twice is only a file: the batch is made once
                if attempt >= self.cfg.max_retries:
                    raise
                await asyncio.sleep(min(30.0, 0.5 * 2 ** attempt) * (0.5 + random.random()))
        return None

    async def create(self, local_id: str, file_id: str | None, lines: Sequence[bytes]) -> BatchInfo:
        endpoint = orjson.loads(lines[0])["url"]
        raw = await self.http.call("POST", "/batches", retry=False, json={
            "input_file_id": file_id, "endpoint": endpoint, "completion_window": self.cfg.batch.completion_window,
            "metadata": {"synthloom_batch": local_id}})
        return self._info(orjson.loads(raw))

    async def find(self, local_id: str, file_id: str | None, since: float, n: int, taken: set[str]) -> BatchInfo | None:
        after = None
        for _ in range(20):  # newest first: ours is among the first pages
            page = orjson.loads(await self.http.call("GET", "/batches?limit=100" + (f"&after={after}" if after else "")))
            for b in page.get("data") or []:
                if (b.get("metadata") or {}).get("synthloom_batch") == local_id or (
                        file_id and b.get("input_file_id") == file_id):
                    return self._info(b)
            if not page.get("has_more") or not page.get("data"):
                return None
            after = page["data"][-1]["id"]
        return None

    async def get(self, batch_id: str) -> BatchInfo:
        return self._info(orjson.loads(await self.http.call("GET", f"/batches/{batch_id}")))

    async def cancel(self, batch_id: str) -> None:
        await self.http.call("POST", f"/batches/{batch_id}/cancel")

    @staticmethod
    def _info(b: Mapping[str, Any]) -> BatchInfo:
        status = b.get("status") or "unknown"
        errors = (b.get("errors") or {}).get("data") or []
        return BatchInfo(id=b["id"], status=status,
                         ended=status in ("completed", "failed", "expired", "cancelled"),
                         counts={k: int(v) for k, v in (b.get("request_counts") or {}).items()},
                         expires_at=_epoch(b.get("expires_at")),
                         outputs=tuple(f for f in (b.get("output_file_id"), b.get("error_file_id")) if f),
                         note="; ".join(str(e.get("message", e)) for e in errors)[:500])

    async def results(self, info: BatchInfo, requests: Mapping[str, GenerationRequest]) -> list[Answer]:
        out: dict[str, Answer] = {}
        for file_id in info.outputs:
            raw = await self.http.call("GET", f"/files/{file_id}/content")
            for line in raw.splitlines():
                answer = self._answer(line, requests)
                if answer is not None and (answer.custom_id not in out or out[answer.custom_id].result is None):
                    out[answer.custom_id] = answer
        missing = {"expired": "expired", "cancelled": "cancelled", "failed": "failed"}.get(info.status, "unreadable")
        return [out.get(c) or Answer(c, None, missing) for c in requests]

    def _answer(self, line: bytes, requests: Mapping[str, GenerationRequest]) -> Answer | None:
        try:
            row = orjson.loads(line)
            cid = row["custom_id"]
            req = requests[cid]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            if line.strip():
                log.warning("%s: an unreadable line in a batch's results: %r", self.http.base, line[:120])
            return None
        error, resp = row.get("error"), row.get("response") or {}
        if error:
            code = str(error.get("code") or "")
            return Answer(cid, None, "expired" if "expired" in code else "cancelled" if "cancel" in code else "failed")
        status, body = resp.get("status_code"), resp.get("body")
        if status != 200 or not isinstance(body, dict):
            message = server_message(int(status or 0), orjson.dumps(body))
            if refuses_response_format(int(status or 0), message) and self.live._level + 1 < len(self.live._ladder):
                self.live._level += 1  # as the live path: one step down the structured-output ladder, then again
            return Answer(cid, None, "failed")
        result = self.live._result(req, orjson.dumps(body), 0.0)
        if result.finish_reason == "error" and result.error_kind == "backend":
            return Answer(cid, None, "unreadable")
        return Answer(cid, result)

    async def aclose(self) -> None:
        await self.http.aclose()


_ANTHROPIC_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "stop"}


class AnthropicBatches:
    """Anthropic's Message Batches: POST /messages/batches (requests inline), GET .../{id}, GET its results_url."""

    name = "anthropic"
    max_requests = 100_000
    max_bytes = 240_000_000  # 256 MB per batch

    def __init__(self, cfg: OpenAIModel, live: OpenAICompatLLM, session: Any = None) -> None:
        self.cfg, self.live = cfg, live
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        headers = {"anthropic-version": "2023-06-01", **({"x-api-key": key} if key else {})}
        self.http = _Http(cfg.base_url, headers, cfg.max_retries, cfg.timeout_s, session)
        self.identity = live.identity

    def endpoint(self, req: GenerationRequest) -> str:
        return "/messages/batches"

    def line(self, custom_id: str, req: GenerationRequest) -> bytes:
        msgs = list(req.messages) if req.messages is not None else [{"role": "user", "content": req.prompt or ""}]
        system = [str(m["content"]) for m in msgs if m.get("role") == "system"]
        if req.json_schema is not None:  # Message Batches have no response_format: the schema goes in the prompt
            system.append(JSON_ONLY_INSTRUCTION + orjson.dumps(req.json_schema, default=str).decode())
        params: dict[str, Any] = {"model": self.cfg.model, "max_tokens": req.max_tokens,
                                  "messages": [{"role": m["role"], "content": m["content"]} for m in msgs
                                               if m.get("role") != "system"],
                                  "temperature": min(1.0, req.temperature)}
        if system:
            params["system"] = "\n\n".join(system)
        if req.stop:
            params["stop_sequences"] = list(req.stop)
        return orjson.dumps({"custom_id": custom_id, "params": params})

    async def upload(self, local_id: str, lines: Sequence[bytes]) -> str | None:
        return None

    async def create(self, local_id: str, file_id: str | None, lines: Sequence[bytes]) -> BatchInfo:
        data = b'{"requests":[' + b",".join(lines) + b"]}"
        raw = await self.http.call("POST", "/messages/batches", data=data, retry=False)
        return self._info(orjson.loads(raw))

    async def find(self, local_id: str, file_id: str | None, since: float, n: int, taken: set[str]) -> BatchInfo | None:
        # no metadata on a message batch: ours is the oldest untaken one of its size created since we asked
        page = orjson.loads(await self.http.call("GET", "/messages/batches?limit=100"))
        fits = [self._info(b) for b in page.get("data") or []
                if b["id"] not in taken and (_epoch(b.get("created_at")) or 0) >= since - 120
                and sum(int(v) for v in (b.get("request_counts") or {}).values()) == n]
        return min(fits, key=lambda i: i.id) if fits else None

    async def get(self, batch_id: str) -> BatchInfo:
        return self._info(orjson.loads(await self.http.call("GET", f"/messages/batches/{batch_id}")))

    async def cancel(self, batch_id: str) -> None:
        await self.http.call("POST", f"/messages/batches/{batch_id}/cancel")

    @staticmethod
    def _info(b: Mapping[str, Any]) -> BatchInfo:
        status = b.get("processing_status") or "unknown"
        return BatchInfo(id=b["id"], status=status, ended=status == "ended",
                         counts={k: int(v) for k, v in (b.get("request_counts") or {}).items()},
                         expires_at=_epoch(b.get("expires_at")),
                         outputs=(b["results_url"],) if b.get("results_url") else ())

    async def results(self, info: BatchInfo, requests: Mapping[str, GenerationRequest]) -> list[Answer]:
        out: dict[str, Answer] = {}
        for url in info.outputs:
            for line in (await self.http.call("GET", url)).splitlines():
                answer = self._answer(line, requests)
                if answer is not None:
                    out[answer.custom_id] = answer
        return [out.get(c) or Answer(c, None, "unreadable") for c in requests]

    def _answer(self, line: bytes, requests: Mapping[str, GenerationRequest]) -> Answer | None:
        try:
            row = orjson.loads(line)
            cid, result = row["custom_id"], row["result"]
            req = requests[cid]
            kind = result["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            if line.strip():
                log.warning("%s: an unreadable line in a batch's results: %r", self.http.base, line[:120])
            return None
        if kind != "succeeded":
            return Answer(cid, None, {"canceled": "cancelled", "expired": "expired"}.get(kind, "failed"))
        msg = result.get("message") or {}
        text = "".join(c.get("text", "") for c in msg.get("content") or [] if c.get("type") == "text")
        finish = _ANTHROPIC_STOP.get(msg.get("stop_reason"), "stop")
        usage = msg.get("usage") or {}
        parsed = kind_ = error = None
        if req.json_schema is not None:
            parsed, kind_, error = read_reply(text, finish, req.json_schema)
        return Answer(cid, GenerationResult(
            text=text, parsed=parsed, finish_reason=finish, prompt_tokens=int(usage.get("input_tokens") or 0),
            completion_tokens=int(usage.get("output_tokens") or 0), model=self.identity, error=error,
            error_kind=kind_, cached_prompt_tokens=int(usage.get("cache_read_input_tokens") or 0)))

    async def aclose(self) -> None:
        await self.http.aclose()


PROVIDERS = {"openai": OpenAIBatches, "anthropic": AnthropicBatches}


def provider_for(cfg: OpenAIModel, live: OpenAICompatLLM, session: Any = None) -> OpenAIBatches | AnthropicBatches:
    return PROVIDERS[cfg.batch_api](cfg, live, session)  # type: ignore[index]


__all__ = ["Answer", "AnthropicBatches", "BatchInfo", "OpenAIBatches", "PROVIDERS", "provider_for"]
