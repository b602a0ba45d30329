"""A scripted fake LLM for unit tests of logic (never the only test of a feature)."""
from __future__ import annotations

import json
from typing import Callable, Sequence

from synthloom.llm.types import GenerationRequest, GenerationResult


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
            parsed = None
            if req.json_schema is not None:
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = None
            out.append(GenerationResult(text=text, parsed=parsed, prompt_tokens=10,
                                        completion_tokens=max(1, len(text) // 4), model=self._identity))
        return out

    async def aclose(self) -> None:
        return None
