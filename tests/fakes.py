"""A scripted fake LLM for unit tests of logic (never the only test of a feature)."""
from __future__ import annotations

import json
from typing import Callable, Sequence

from synthloom.llm.jsontext import read_reply
from synthloom.llm.types import GenerationRequest, GenerationResult


def reply(text: str, schema: object = None, finish: str = "stop", model: str = "fake:scripted") -> GenerationResult:
    """The result a backend builds for `text`: read as JSON (`parsed`, `error_kind`) when a schema was asked for."""
    parsed = kind = error = None
    if schema is not None:
        parsed, kind, error = read_reply(text, finish, schema)
    return GenerationResult(text=text, parsed=parsed, finish_reason=finish, error=error, error_kind=kind,
                            prompt_tokens=10, completion_tokens=max(1, len(text) // 4), model=model)


class ScriptedLLM:
    """Answers each request with `responder(request)`; a str, or a dict/list sent as JSON."""

    def __init__(self, responder: Callable[[GenerationRequest], object], identity: str = "fake:scripted") -> None:
        self._responder = responder
        self._identity = identity
        self.requests: list[GenerationRequest] = []

    @property
    def identity(self) -> str:
        return self._identity

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        out = []
        for req in requests:
            self.requests.append(req)
            value = self._responder(req)
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(reply(text, req.json_schema, model=self._identity))
        return out

    async def aclose(self) -> None:
        return None
