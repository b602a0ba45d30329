"""What an OpenAI-compatible server's HTTP answers say: wait times, error messages, refusals.

Plain functions over status codes, headers and bodies, shared by the `openai` backend
(`openai_compat.py`) and testable without a server. Also `redact_url`: a base_url may
carry user:password@, which must never reach a log, an error or the call cache's identity.
"""
from __future__ import annotations

import email.utils
import time
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

import orjson

# words a server uses when it refuses the structured-output request itself
_SO_HINTS = ("response_format", "json_schema", "json_object", "schema", "unsupported", "not supported")


def redact_url(url: str) -> str:
    """The URL without user:password@ (a base_url may carry credentials)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def server_message(status: int, body: bytes) -> str:
    """The server's own error message, on one line (OpenAI, FastAPI and plain-text shapes)."""
    return " ".join(_rawserver_message(status, body).split())[:500]


def _rawserver_message(status: int, body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:500] or f"HTTP {status}"
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message") or err
        if err is not None:
            return (err if isinstance(err, str) else orjson.dumps(err).decode())[:500]
    return orjson.dumps(data).decode()[:500]


def refuses_response_format(status: int, message: str) -> bool:
    """Did the server refuse the response_format we sent (rather than fail for another reason)?

    Servers say so with a 400/422 (OpenAI, vLLM, FastAPI validation) or, like llama-cpp-python's
    server, with a 500 that carries the validation error of the `response_format` field.
    """
    text = message.lower()
    if status in (400, 404, 415, 422, 501):
        return any(h in text for h in _SO_HINTS)
    return status == 500 and ("response_format" in text or "json_schema" in text)


def to_dict(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")
