"""In-process llama.cpp backend: the default, with the bundled Gemma 3 270M model.

The model is loaded lazily, once, and every llama.cpp call runs in one worker
thread, so the event loop never blocks and requests are decoded one after the
other (the context holds a single sequence). The decoding loop is our own, on
llama-cpp-python's low-level API:

- the KV cache keeps the previous prompt, and the KV cells of the last few prompts are
  kept in memory (``prefix_states.py``), so a request that shares a few-shot prefix with
  any of them only evaluates its new tail;
- with a JSON schema and ``constrained: llguidance``, the schema's token mask is
  written into the logits before llama.cpp's sampler runs, tokens the grammar
  forces are evaluated in one batch without sampling, and decoding ends the
  moment the JSON value is complete (see ``constrain.py``);
- ``constrained: grammar`` uses llama.cpp's own GBNF sampler instead (slower),
  ``none`` decodes freely and parses.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence


from ..config.models import LlamaCppModel
from ..errors import BackendError, InputFileError
from .constrain import (ConstraintUnavailable, CopyGuard, JsonConstraint, break_runaways, pick_token,
                        truncated_values)
from .batch_scheduler import BatchScheduler
from .batched import BatchDecoder, Decoded, Prepared, _find_stop
from .jsontext import read_reply
from .llama_model import TOP_K, _gbnf_for, _Loaded, open_llama, plain_cpu_weights  # noqa: F401 (re-exported)
from .model_files import model_identity, resolve_model
from .render import render_request
from .types import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)


def copy_guard(req: GenerationRequest) -> CopyGuard | None:
    """The request's guard against copying its examples (`GenerationRequest.avoid`), if it has texts to guard."""
    if not req.avoid:
        return None
    guard = CopyGuard(req.avoid)
    return guard if guard.texts else None


class LlamaCppLLM:
    """The ``LLM`` protocol over an in-process llama.cpp model."""

    def __init__(self, cfg: LlamaCppModel | None = None) -> None:
        self._cfg = cfg or LlamaCppModel()
        path, sha = resolve_model(self._cfg.path)  # a bad path fails here, before any work
        self._path = path
        self._identity = model_identity(path, sha)
        if self._cfg.constrained != "llguidance":
            self._identity += f"#constrained={self._cfg.constrained}"
        if self._cfg.prompt_style != "auto":
            self._identity += f"#prompt={self._cfg.prompt_style}"
        if self._cfg.batch > 1:  # batching changes numerics a little: its calls are cached apart
            self._identity += "#batched"
        self._batch: BatchScheduler | None = None
        self._decoder: BatchDecoder | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loaded: _Loaded | None = None
        # Evaluate grammar-forced tokens in one batch without sampling (see constrain.py).
        # Off only to measure what it buys (benchmarks/constrained_speed.py).
        self.fast_forward = True
        # Wall-clock cap per request (None: none); a request cut by it ends with finish_reason "length".
        self.request_timeout_s: float | None = None

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def model_path(self) -> str:
        return str(self._path)

    @property
    def concurrency(self) -> int:
        """Requests worth having in flight at once: the batch width (the engine's default)."""
        return self._cfg.batch

    # -- async API -------------------------------------------------------------------------

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        if self._cfg.batch > 1:
            if self._batch is None:
                self._batch = BatchScheduler(self._batched, self._prepare, self._from_decoded,
                                             lambda: self.request_timeout_s)
            return await self._batch.generate(self._executor, list(requests))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.generate_sync, list(requests))

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, self._unload)
        executor.shutdown(wait=True)

    # -- worker-thread side ----------------------------------------------------------------

    def _unload(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        if self._loaded is not None:
            self._loaded.close()
            self._loaded = None

    def _model(self) -> _Loaded:
        if self._loaded is None:
            self._loaded = _Loaded(str(self._path), self._cfg)
        return self._loaded

    def generate_sync(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Decode requests one after another in the calling thread.

        The async ``generate`` calls this in the backend's single worker thread; call it
        directly only from code that never runs two calls at once (a script, a benchmark).
        """
        m = self._model()
        if self._cfg.batch > 1:
            decoded = self._batched().run([self._prepare(r) for r in requests], self.request_timeout_s)
            return [self._from_decoded(r, d) for r, d in zip(requests, decoded)]
        out = []
        for req in requests:
            try:
                out.append(self._one(m, req))
            except (InputFileError, BackendError):
                raise
            except Exception as exc:  # one bad request must not sink the batch
                log.exception("llama.cpp generation failed")
                out.append(
                    GenerationResult(text="", finish_reason="error", model=self._identity,
                                     error=f"llama.cpp: {type(exc).__name__}: {exc}")
                )
        return out

    # -- batched decoding (llm/batched.py): prepare a request, decode it with others, build its result

    def _batched(self) -> BatchDecoder:
        if self._decoder is None:
            m = self._model()
            self._decoder = BatchDecoder(m, self._cfg.batch, self._cfg.n_ctx, m.threads,
                                         fast_forward=self.fast_forward)
        return self._decoder

    def _prepare(self, req: GenerationRequest) -> Prepared:
        m = self._model()
        t0 = time.perf_counter()
        prompt, extra_stops = render_request(req, m.style, m.template, m.bos_text, m.eos_text)
        tokens = m.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=(m.style == "chat"))
        n_ctx = self._cfg.n_ctx
        if len(tokens) >= n_ctx:
            return Prepared(req, tokens, 0, [], None, None, t0,
                            error=f"prompt has {len(tokens)} tokens, more than the context (model.n_ctx={n_ctx}); "
                                  "raise n_ctx or shorten the prompt")
        constraint, gbnf = self._constraint_for(m, req.json_schema)
        constrained = constraint is not None or gbnf is not None
        stops = [s.encode() for s in (*req.stop, *(() if constrained else extra_stops)) if s]
        return Prepared(req, tokens, min(req.max_tokens, n_ctx - len(tokens)), stops,
                        constraint.clone() if constraint is not None else None, gbnf, t0, guard=copy_guard(req))

    def _from_decoded(self, req: GenerationRequest, d: Decoded) -> GenerationResult:
        parsed, kind, error = None, ("backend" if d.error else None), d.error
        truncated: tuple[str, ...] = ()
        if req.json_schema is not None and d.finish != "error":
            parsed, kind, error = read_reply(d.text, d.finish, req.json_schema, d.cut_by)
            if d.constrained and parsed is not None:
                truncated = truncated_values(d.text, parsed, req.json_schema, d.overridden)
        return GenerationResult(text=d.text, parsed=parsed, finish_reason=d.finish, prompt_tokens=d.prompt_tokens,
                                completion_tokens=d.completion_tokens, latency_s=d.latency_s, model=self._identity,
                                error=error, error_kind=kind, truncated=truncated)

    def _constraint_for(self, m: _Loaded, schema: Any) -> tuple[JsonConstraint | None, str | None]:
        mode = self._cfg.constrained
        if schema is None or mode == "none":
            return None, None
        try:
            if mode == "grammar":
                return None, _gbnf_for(schema)
            return m.constraints().get(schema), None
        except ConstraintUnavailable as exc:
            log.warning("schema cannot be enforced while decoding (%s); decoding freely and validating after", exc)
            return None, None

    def _one(self, m: _Loaded, req: GenerationRequest) -> GenerationResult:
        t0 = time.perf_counter()
        prompt, extra_stops = render_request(req, m.style, m.template, m.bos_text, m.eos_text)
        tokens = m.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=(m.style == "chat"))
        n_ctx = m.llm.n_ctx()
        if len(tokens) >= n_ctx:
            return GenerationResult(
                text="", finish_reason="error", prompt_tokens=len(tokens), model=self._identity,
                error=f"prompt has {len(tokens)} tokens, more than the context (model.n_ctx={n_ctx}); "
                      "raise n_ctx or shorten the prompt",
            )
        budget = min(req.max_tokens, n_ctx - len(tokens))
        constraint, gbnf = self._constraint_for(m, req.json_schema)
        constrained = constraint is not None or gbnf is not None
        # Transcript stops ("\nInput:") only make sense for free text; a user's stops always apply.
        stops = [s.encode() for s in (*req.stop, *(() if constrained else extra_stops)) if s]
        max_stop = max((len(s) for s in stops), default=0)

        m.feed_prompt(tokens)
        chain = m.sampler(req, gbnf)
        lib = m.lib
        guard = copy_guard(req)

        def sample() -> int:
            return int(lib.llama_sampler_sample(chain, m.ctx, -1))

        deadline = t0 + self.request_timeout_s if self.request_timeout_s else None
        out = bytearray()
        overridden: list[tuple[int, int]] = []  # byte spans of tokens the grammar chose, not the model
        gen_tokens: list[int] = []
        cut_by = "max_tokens"
        n_gen = 0
        finish = "length"
        try:
            while n_gen < budget:
                if constraint is not None:
                    constraint.compute_mask()
                    break_runaways(constraint, gen_tokens, m.piece, m.digit_tokens)
                    row = m.logits_row()
                    token, free = pick_token(constraint, row, sample)
                    if guard is not None:
                        token = guard.steer(token, out, m.piece, row, constraint, sample)
                    if not free:
                        overridden.append((len(out), len(out) + len(m.piece(token))))
                else:
                    token = sample()
                    if guard is not None and gbnf is None:  # a GBNF sampler has accepted the token already
                        token = guard.steer(token, out, m.piece, m.logits_row(), None, sample)
                if m.is_eog(token):
                    finish = "stop"
                    break
                n_gen += 1
                batch = [token]
                gen_tokens.append(token)
                out += m.piece(token)
                if constraint is not None:
                    if not constraint.consume(token):
                        log.warning("llguidance rejected token %d: %s", token, constraint.error)
                        finish = "stop"
                        break
                    if constraint.is_stopped():
                        finish = "stop"
                        break
                    forced = constraint.forced_tokens() if self.fast_forward else ()
                    for ff in forced[: budget - n_gen]:
                        batch.append(ff)
                        gen_tokens.append(ff)
                        overridden.append((len(out), len(out) + len(m.piece(ff))))
                        out += m.piece(ff)
                        n_gen += 1
                    if constraint.is_stopped():
                        finish = "stop"
                        break
                if stops:
                    window = bytes(out[-(max_stop + 64 * len(batch)):])
                    cut = _find_stop(window, stops)
                    if cut is not None:
                        del out[len(out) - len(window) + cut:]
                        finish = "stop"
                        break
                if n_gen >= budget:
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    log.info("request stopped after %.0f s (request_timeout_s)", self.request_timeout_s)
                    cut_by = "request_timeout_s"
                    break
                m.llm.eval(batch)
        finally:
            lib.llama_sampler_free(chain)

        text = out.decode("utf-8", "replace")
        parsed, kind, error = None, None, None
        truncated: tuple[str, ...] = ()
        if req.json_schema is not None:
            parsed, kind, error = read_reply(text, finish, req.json_schema, cut_by)
            if constraint is not None and parsed is not None:
                truncated = truncated_values(text, parsed, req.json_schema, overridden)
        return GenerationResult(
            text=text,
            parsed=parsed,
            finish_reason=finish,
            prompt_tokens=len(tokens),
            completion_tokens=n_gen,
            latency_s=time.perf_counter() - t0,
            model=self._identity,
            error=error,
            error_kind=kind,
            truncated=truncated,
        )
