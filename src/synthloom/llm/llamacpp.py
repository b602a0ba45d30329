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

What a request decides (its preparation, and each token: mask, runaway breakers, copy guard, forced
tokens, stops, budget, truncation marks) is ``decode_step.py``, shared with batched decoding
(``batched.py``, ``batch`` > 1); this module evaluates the tokens one sequence at a time.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence


from ..config.models import LlamaCppModel
from ..errors import BackendError, InputFileError
from .batch_scheduler import BatchScheduler
from .batched import BatchDecoder
from .decode_step import Decoded, Decoding, Prepared, decoded, failed, prepare, result, step
from .llama_model import TOP_K, _gbnf_for, _Loaded, open_llama, plain_cpu_weights  # noqa: F401 (re-exported)
from .model_files import model_identity, resolve_model
from .types import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)


class LlamaCppLLM:
    """The ``LLM`` protocol over an in-process llama.cpp model."""

    def __init__(self, cfg: LlamaCppModel | None = None) -> None:
        self._cfg = cfg or LlamaCppModel()
        path, sha = resolve_model(self._cfg.path)  # a bad path fails here, before any work
        self._path = path
        self._identity = model_identity(path, sha)
        if self._cfg.min_p > 0:  # sampled from fewer tokens: its calls are cached apart from unfiltered ones
            self._identity += f"#min_p={self._cfg.min_p:g}"
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
        self._style: str | None = None  # prompt_style, once read
        # Evaluate grammar-forced tokens in one batch without sampling (see constrain.py).
        # Off only to measure what it buys (benchmarks/constrained_speed.py).
        self.fast_forward = True
        # Wall-clock cap per request (None: none); a request cut by it ends with finish_reason "length".
        self.request_timeout_s: float | None = None

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def prompt_style(self) -> str:
        """``completion`` (a base model: plain few-shot text) or ``chat`` (the GGUF's own chat template), as
        this model's prompts are rendered; read from the GGUF's metadata without loading its weights."""
        if self._cfg.prompt_style != "auto":
            return self._cfg.prompt_style
        if self._loaded is not None:
            return self._loaded.style
        if self._style is None:
            from .llama_model import gguf_metadata
            from .render import choose_style

            self._style = choose_style("auto", gguf_metadata(str(self._path)))
        return self._style

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
            done = self._batched().run([self._prepare(r) for r in requests], self.request_timeout_s)
            return [self._from_decoded(r, d) for r, d in zip(requests, done)]
        out = []
        for req in requests:
            try:
                p = self._prepare(req)
                out.append(self._from_decoded(req, failed(p, p.error) if p.error is not None else self._decode(m, p)))
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
        return prepare(self._model(), req, self._cfg.constrained, self._cfg.n_ctx)

    def _from_decoded(self, req: GenerationRequest, d: Decoded) -> GenerationResult:
        return result(req, d, self._identity)

    # -- one sequence at a time ------------------------------------------------------------------

    def _decode(self, m: _Loaded, p: Prepared) -> Decoded:
        """Decode one prepared request on the model's own context, from its prompt to its end."""
        s = Decoding(deadline=p.t0 + self.request_timeout_s if self.request_timeout_s else None)
        m.feed_prompt(p.tokens)
        chain = m.sampler(p.request, p.gbnf)
        ctx, sample_last, row, evaluate = m.ctx, m.lib.llama_sampler_sample, m.logits_row, m.llm.eval
        try:
            while (batch := step(m, p, s, row, lambda: int(sample_last(chain, ctx, -1)), self.fast_forward)):
                evaluate(batch)
        finally:
            m.lib.llama_sampler_free(chain)
        return decoded(p, s)
