"""A reward model for preference data: an HTTP endpoint that returns a score, or a local Python function.

The endpoint gets `POST {url}` with `{"model": ..., "messages": [{"role": "user", ...}, {"role": "assistant", ...}]}`
(the chat a reward model scores) and may answer with a JSON number, or an object holding the number under
`score` or `reward`, or under `data[0].score` / `data[0].data` (vLLM's score and pooling replies; a list is
read at its last element). A reply without a number is an error that shows the reply.
"""
from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from typing import Any, Callable

from ..errors import BackendError, RecipeError


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list) and value:
        return _number(value[-1])
    if isinstance(value, dict):
        for key in ("score", "reward"):
            if key in value:
                return _number(value[key])
        data = value.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return _number(data[0].get("score", data[0].get("data")))
    return None


def read_score(reply: Any) -> float | None:
    """The score in an endpoint's JSON reply, or None."""
    return _number(reply)


class RewardScorer:
    def __init__(self, config: Any) -> None:
        self.config = config
        self._fn: Callable[[str, str], Any] | None = None
        if config.function:
            from ..registry import load

            try:
                fn = load(config.function)
            except (ImportError, AttributeError, ValueError):
                fn = None
            if fn is None or not callable(fn):
                raise RecipeError(f"generate.reward.function: cannot import {config.function!r}; give "
                                  "'module:function' of an installed module")
            self._fn = fn

    def _post(self, prompt: str, response: str) -> float:
        c = self.config
        body = json.dumps({"model": c.model, "messages": [{"role": "user", "content": prompt},
                                                          {"role": "assistant", "content": response}]}).encode()
        headers = {"Content-Type": "application/json"}
        if c.api_key_env and os.environ.get(c.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[c.api_key_env]}"
        req = urllib.request.Request(c.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=c.timeout) as resp:
                text = resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            raise BackendError(f"reward model {c.url}: HTTP {exc.code}: {exc.read()[:200]!r}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise BackendError(f"reward model {c.url}: {exc}; is the server running?") from exc
        try:
            score = read_score(json.loads(text))
        except ValueError:
            score = None
        if score is None:
            raise BackendError(f"reward model {c.url}: no score in the reply {text[:200]!r}; it should be a number "
                               "or an object with 'score'")
        return score

    def _local(self, prompt: str, response: str) -> float:
        value = self._fn(prompt, response)  # type: ignore[misc]
        score = _number(value)
        if score is None:
            raise RecipeError(f"generate.reward.function {self.config.function}: returned {value!r}, not a number")
        return score

    async def score(self, prompt: str, response: str) -> float:
        return await asyncio.to_thread(self._local if self._fn else self._post, prompt, response)
