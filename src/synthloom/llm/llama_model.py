"""Loading a GGUF with llama.cpp, and the loaded model the llamacpp backend decodes with.

`open_llama` is the one way synthloom loads a GGUF (the backend, the fluency scorer, the
local server, the LoRA tools): with llama.cpp's extra weight buffers off
(`plain_cpu_weights`), because on an Intel Xeon with AMX a native build repacks the weights
for AMX and crashes on the bundled Gemma 3 model. `_Loaded` holds the model, its context,
vocabulary and prompt style, and the schema-constraint cache.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
import threading
from typing import Any

import numpy as np

from ..config.models import LlamaCppModel
from ..cores import idle_cores as _idle_cores  # a module global: tests replace it
from ..cores import thread_cap, usable_cores
from ..errors import InputFileError
from .constrain import ConstraintCache, ConstraintUnavailable, make_tokenizer
from .prefix_states import MIN_GAIN, PrefixStates, chunk_ends, common_prefix, reusable
from .render import choose_style
from .types import GenerationRequest

log = logging.getLogger("synthloom.llm.llamacpp")

TOP_K = 40  # bounds the sampler's sort over Gemma's 262k-token vocabulary
_LOG_CALLBACK = None  # keeps the ctypes callback alive for the process


_claimed = 0  # llama.cpp threads held by models loaded in this process (default_threads / release_threads)
_claim_lock = threading.Lock()


def default_threads() -> int:
    """llama.cpp threads for a model whose ``model.n_threads`` is not set: the cores idle now.

    llama.cpp's threads spin at barriers, so more threads than free cores is many times slower
    (3-14x measured on 2 loaded cores), while on an idle 2-core machine 2 threads decode ~1.5x
    faster than 1 (``make demo``: 82 vs 122 s, the same 50 records). Idle: the cores this process
    may use, minus those busy over the last 0.2 s (rounded), minus threads that models already
    loaded in this process hold (a judge beside a generator: they decode at the same time), capped
    by ``OMP_NUM_THREADS`` when set and by 8; at least 1. Call `release_threads` when the model goes.
    """
    global _claimed
    cap = thread_cap()
    idle = min(float(usable_cores()), _idle_cores())
    with _claim_lock:
        n = max(1, min(cap, 8, int(idle + 0.5) - _claimed))
        _claimed += n
    return n


def release_threads(n: int) -> None:
    global _claimed
    with _claim_lock:
        _claimed = max(0, _claimed - n)


def quiet_llama_logs(llama_cpp: Any) -> None:
    """Route llama.cpp's own log lines to our logger at debug level, once."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return

    @llama_cpp.llama_log_callback
    def _cb(level, text, user_data):  # pragma: no cover - called from C
        try:
            log.debug("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())
        except Exception:
            pass

    _LOG_CALLBACK = _cb
    llama_cpp.llama_log_set(_cb, ctypes.c_void_p(0))


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def plain_cpu_weights(llama_cpp: Any):
    """Load models with ``use_extra_bufts = False``: no repacking of weights into extra CPU buffer types.

    A native llama-cpp-python build on an Intel CPU with AMX includes llama.cpp's AMX backend, which
    repacks q4_K/q6_K/q8_0 weights into an "AMX model buffer"; decoding the bundled Gemma 3 model on
    those buffers segfaults. ``llama_cpp.Llama`` has no argument for the flag, so the default model
    parameters it starts from are patched for the duration of the load (under a lock: loads in other
    threads see the same setting). Also used by ``python -m synthloom.llm.serve``.
    """
    lowlevel = llama_cpp.llama_cpp
    original = lowlevel.llama_model_default_params

    def params():
        p = original()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    with _PARAMS_LOCK:
        lowlevel.llama_model_default_params = params
        try:
            yield
        finally:
            lowlevel.llama_model_default_params = original


def open_llama(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path=path, **kwargs)``, loaded the way every GGUF in synthloom is loaded."""
    import llama_cpp

    with plain_cpu_weights(llama_cpp):
        return llama_cpp.Llama(model_path=os.fspath(path), **kwargs)


@functools.lru_cache(maxsize=8)
def gguf_metadata(path: str) -> dict[str, Any]:
    """A GGUF's metadata (name, fine-tune, chat template ...) from its vocabulary alone, without its weights
    (about 0.3 s for the bundled model); {} when llama.cpp cannot read it (loading the model will say why)."""
    import llama_cpp

    quiet_llama_logs(llama_cpp)
    try:
        return dict(open_llama(path, vocab_only=True, verbose=False).metadata)
    except (ValueError, RuntimeError, OSError):
        return {}


class _Loaded:
    """Everything that lives in the worker thread once the model is loaded."""

    def __init__(self, path: str, cfg: LlamaCppModel) -> None:
        import llama_cpp

        quiet_llama_logs(llama_cpp)
        self.lib = llama_cpp
        self.threads = threads = cfg.n_threads or default_threads()
        self._claimed = 0 if cfg.n_threads else threads
        try:
            self.llm = open_llama(
                path,
                n_ctx=cfg.n_ctx,
                n_batch=min(512, cfg.n_ctx),
                n_threads=threads,
                n_threads_batch=threads,
                seed=0,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            release_threads(self._claimed)
            raise InputFileError(
                f"model.path: llama.cpp could not load {path!r} ({exc}); check that it is a complete GGUF "
                "model file that this llama.cpp version supports"
            ) from exc
        self.ctx = self.llm._ctx.ctx
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm._model.model)
        self.n_vocab = int(self.llm.n_vocab())
        self.metadata = dict(self.llm.metadata)
        self.style = choose_style(cfg.prompt_style, self.metadata)
        self.min_p = cfg.min_p
        self.template = self.metadata.get("tokenizer.chat_template")
        # The tokenizer adds BOS itself, so templates get an empty bos_token (no double BOS).
        self.bos_text = ""
        self.eos_text = self._piece_text(self.llm.token_eos()) if self.style == "chat" else ""
        self._pieces: dict[int, bytes] = {}
        self._digits: list[int] | None = None
        self._constraints: ConstraintCache | None = None
        self._prompt = 0  # leading cells of the live context that hold the last prompt (feed_prompt)
        self.live_reused = 0  # prompt tokens taken from the live context instead of evaluated
        # prompt states kept for the single-sequence path (the batched path shares prefixes itself)
        self.states: PrefixStates | None = PrefixStates(llama_cpp, self.ctx) if cfg.batch == 1 else None
        log.info("loaded %s (%s prompts, %d threads)", os.path.basename(path), self.style, threads)

    def _piece_text(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", "replace")

    def piece(self, token: int) -> bytes:
        p = self._pieces.get(token)
        if p is None:
            p = self.llm.detokenize([token])
            self._pieces[token] = p
        return p

    def digit_tokens(self) -> list[int]:
        """The tokens of the single digits 0-9 (what `constrain.break_runaways` bans after a digit run)."""
        if self._digits is None:
            self._digits = sorted({t for d in "0123456789"
                                   for t in self.llm.tokenize(d.encode(), add_bos=False, special=False)})
        return self._digits

    def is_eog(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    def constraints(self) -> ConstraintCache:
        if self._constraints is None:
            eog = [t for t in range(min(self.n_vocab, 256)) if self.is_eog(t)] or [self.llm.token_eos()]
            self._constraints = ConstraintCache(make_tokenizer(self.lib, self.vocab, eos_tokens=eog), self.n_vocab)
        return self._constraints

    def logits_row(self) -> np.ndarray:
        ptr = self.lib.llama_get_logits_ith(self.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def breaks(self, token: int) -> bool:
        """Whether the token's text has a line break (where a prompt's evaluation chunks may end)."""
        return b"\n" in self.piece(token)

    def feed_prompt(self, tokens: list[int]) -> None:
        """Evaluate the prompt, reusing the KV cells of the longest prefix it shares with the live
        context (the last prompt) or with a stored prompt state (`prefix_states`).

        The prompt is evaluated in chunks whose ends depend only on its own tokens, and a prefix
        is reused only up to one of those ends, so its cells, and the tokens it decodes to, do not
        depend on which prompts came before it (see `prefix_states`)."""
        llm = self.llm
        ends = chunk_ends(tokens, self.breaks)
        limit = min(len(tokens) - 1, llm.n_ctx())  # always evaluate >= 1 token for fresh logits
        live = reusable(ends, min(common_prefix(llm.input_ids[: self._prompt], tokens), limit))
        stored, key = self.states.best(tokens, limit, ends) if self.states is not None else (0, None)
        self._prompt = 0  # until the chunks below are evaluated
        if key is not None and stored >= live + MIN_GAIN and self.states.restore(key, stored):
            keep = stored
            self.states.saved_tokens += stored - live
        elif live > 0 and llm._ctx.kv_cache_seq_rm(-1, live, -1):
            keep = live
            self.live_reused += live
        else:
            llm.reset()
            keep = 0
        llm.n_tokens = keep
        llm.input_ids[:keep] = tokens[:keep]
        llm._ctx.kv_cache_seq_rm(-1, keep, -1)
        start = keep
        for end in ends:
            if end > start:
                self._eval_chunk(tokens[start:end], logits=end == len(tokens))
                start = end
        # the prompt's cells: what the next prompt may take from the live context (generated tokens
        # come after them, evaluated in other calls than a prompt would evaluate them in)
        self._prompt = len(tokens)
        if self.states is not None:
            self.states.save(tokens)

    def _eval_chunk(self, chunk: list[int], logits: bool) -> None:
        """``llm.eval(chunk)`` (one call), with the last token's logits only if ``logits``.

        The logits of a chunk before the prompt's last are never read, and computing them reads the
        262k-row output layer once per chunk. The KV cells are the same either way: llama.cpp selects
        the rows to output after the last layer's attention has written them."""
        llm = self.llm
        n_past = llm.n_tokens
        llm._batch.set_batch(batch=chunk, n_past=n_past, logits_all=False)
        if not logits:
            llm._batch.batch.logits[len(chunk) - 1] = False
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past:n_past + len(chunk)] = chunk
        llm.n_tokens = n_past + len(chunk)

    def sampler(self, request: GenerationRequest, grammar: str | None) -> Any:
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if grammar is not None:
            g = lib.llama_sampler_init_grammar(self.vocab, grammar.encode(), b"root")
            if not g:
                lib.llama_sampler_free(chain)
                raise ConstraintUnavailable("llama.cpp could not parse the GBNF grammar")
            lib.llama_sampler_chain_add(chain, g)
        if request.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        else:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(TOP_K))
            if request.top_p < 1.0:
                lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(request.top_p, 1))
            if self.min_p > 0:
                lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(self.min_p, 1))
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(request.temperature))
            seed = lib.LLAMA_DEFAULT_SEED if request.seed is None else int(request.seed) % (2**32 - 1)
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
        return chain

    def close(self) -> None:
        if self.states is not None:
            self.states.clear()
        self.llm.close()
        release_threads(self._claimed)
        self._claimed = 0


def _gbnf_for(schema: Any) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:
        raise ConstraintUnavailable(f"{type(exc).__name__}: {exc}") from exc
