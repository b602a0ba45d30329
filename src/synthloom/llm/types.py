"""Requests, results and the LLM protocol every backend implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from ..records import canonical_json, content_hash
from .jsontext import ErrorKind, legacy_error_kind


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One call to a model.

    Give either `messages` (chat: a tuple of {"role", "content"} dicts) or
    `prompt` (raw completion text, for base models with few-shot prompts).
    `json_schema`, when set, asks for output that conforms to it: by
    constrained decoding where the backend can, else by prompt-and-validate.
    """

    messages: tuple[Mapping[str, str], ...] | None = None
    prompt: str | None = None
    json_schema: Mapping[str, Any] | None = None
    max_tokens: int = 512
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # texts the output must not copy (few-shot examples' values): a backend that decodes itself
    # (llamacpp) bans the token that would take a value past half of one of them; others ignore it
    avoid: tuple[str, ...] = ()
    # free-form label for statistics ("generate", "judge", ...); not part of the cache key
    purpose: str = field(default="generate", compare=False)

    def key_payload(self) -> dict[str, Any]:
        return {
            "messages": [dict(m) for m in self.messages] if self.messages is not None else None,
            "prompt": self.prompt,
            "json_schema": self.json_schema,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
            **({"avoid": list(self.avoid)} if self.avoid else {}),  # absent when empty: older keys stay valid
        }


def cache_key(identity: str, request: GenerationRequest) -> str:
    """Content address of a call: backend + model identity + the full request."""
    return content_hash({"model": identity, "request": request.key_payload()}, 20)


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """What one call returned.

    For a structured call (``json_schema`` set) the backend has already read the reply
    (``llm/jsontext.read_reply``): ``parsed`` is the JSON value, or None with ``error`` and
    ``error_kind`` saying why ("truncated", "invalid_json"); a failed call has
    ``error_kind`` "backend". Read ``parsed`` and ``error_kind``; never parse ``text`` again.
    """

    text: str
    parsed: Any = None  # the JSON value when a schema was requested and the text parsed
    finish_reason: str = "stop"  # stop | length | error
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    model: str = ""
    cached: bool = False
    error: str | None = None  # set when this one request failed after retries
    cached_prompt_tokens: int = 0  # prompt tokens the server served from its own prompt cache (billed lower)
    # field paths ("subject", "items[2]") of values the decoder ended at their maxLength/maxItems
    # bound rather than by the model's choice: cut-off values, though the JSON is valid
    truncated: tuple[str, ...] = ()
    # why `error` is set: "backend" (the call failed), "truncated" or "invalid_json" (no JSON in the reply)
    error_kind: ErrorKind | None = None

    def __post_init__(self) -> None:
        # built without a kind: a failed call ("backend"), or a result stored before results had kinds
        if self.error is not None and self.error_kind is None:
            object.__setattr__(self, "error_kind", legacy_error_kind(self.error, self.finish_reason))

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def parsed_object(self) -> dict[str, Any] | None:
        """``parsed`` when the call succeeded and the reply is a JSON object, else None."""
        return self.parsed if self.error is None and isinstance(self.parsed, dict) else None


@runtime_checkable
class LLM(Protocol):
    """A model that turns requests into results.

    `identity` names the backend and model precisely enough for the call cache
    (e.g. `llamacpp:gemma3-270m-q4_k_m@<sha256>` or `openai:http://host/v1#model`).
    It never contains a secret.
    """

    @property
    def identity(self) -> str: ...

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Routed(Protocol):
    """An LLM that hands each request to one of several models: a pool, or a wrapper around one
    (the call cache, the cost guard, the Ray driver), which passes the routing through.

    `for_request(req)` is the model that serves `req`, the same one on every run. The call cache
    keys a call by that model's identity and a cost budget prices it at that model's price, so a
    pool's calls replay and are billed per member. Optional: a plain backend serves every request
    itself, and `router` treats it so.
    """

    def for_request(self, req: GenerationRequest) -> LLM: ...


def router(llm: LLM) -> Callable[[GenerationRequest], LLM]:
    """`req -> the model that serves it` behind `llm`: its `for_request` if it routes, else `llm` itself."""
    if isinstance(llm, Routed):
        return llm.for_request
    return lambda req: llm


def result_to_json(r: GenerationResult) -> bytes:
    return canonical_json(
        {
            "text": r.text,
            "parsed": r.parsed,
            "finish_reason": r.finish_reason,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "latency_s": r.latency_s,
            "model": r.model,
            "error": r.error,
            **({"error_kind": r.error_kind} if r.error_kind else {}),
            **({"cached_prompt_tokens": r.cached_prompt_tokens} if r.cached_prompt_tokens else {}),
            **({"truncated": list(r.truncated)} if r.truncated else {}),
        }
    )
