"""Batched decoding for the llama.cpp backend: many sequences in one ``llama_decode`` per step.

A step that carries one token for each of several sequences reads the weights once for all of
them; how much that buys depends on the CPU (on 2 AVX2 cores the bundled model's 262k-token output
layer is compute-bound per row: docs/benchmarks_batched.md has the curve). This module owns a
second llama.cpp context on the backend's loaded model, with ``n_seq_max`` = width, room for a full
context per slot, and one KV buffer shared by every sequence (``kv_unified``, ``swa_full``):

- continuous batching: each request gets a sequence slot; a finished sequence frees its slot and
  KV cells at once and the next waiting request takes it in the same step;
- every sequence has its own sampler chain (its own seed) and its own llguidance matcher; a request
  is prepared and every token decided by ``decode_step.py``, as on the single-sequence path, so results
  have the same fields, finish reasons and truncation spans;
- a prompt prefix shared with another sequence (the system text and few-shot examples of a
  recipe) is evaluated once: a new sequence takes the KV cells of the longest common prefix from
  the sequence that has them (``llama_memory_seq_cp``, which in a unified cache tags the same cells
  with one more sequence id: no copy, no re-evaluation). A finished sequence keeps its prompt's
  cells until its slot is reused, so requests that come one at a time share a prefix too; a
  request whose prefix another sequence is about to evaluate waits one step for it.

With several tokens in a step llama.cpp's CPU kernels take another path and sum in another order,
so a sequence's logits depend a little on its batch mates and a sampled token can differ from the
single-sequence path (width 1 reproduces it byte for byte); the backend's identity says
``#batched`` so the call cache never replays one mode's output as the other's.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .decode_step import Decoded, Decoding, Prepared, decoded, failed, step
from .prefix_states import chunk_ends, common_prefix, reusable

log = logging.getLogger(__name__)

MIN_SHARE = 16  # tokens: a new sequence waits a step for a prefix at least this much longer


@dataclass
class _Seq:
    prep: Prepared
    slot: int
    on_done: Callable[[Decoded], None]
    chain: Any = None
    pending: list[int] = field(default_factory=list)  # tokens to evaluate next step
    pos: int = 0  # position of pending[0]
    state: Decoding = field(default_factory=Decoding)
    cancelled: Callable[[], bool] | None = None


@dataclass
class Stats:
    """Counters a test or a benchmark reads: what was evaluated, and how often."""

    prompt_tokens: int = 0  # prompt tokens of all requests admitted
    prompt_evaluated: int = 0  # prompt tokens actually evaluated (prefix shared: fewer)
    prefix_shared: int = 0  # prompt tokens taken from another sequence's KV cells instead
    generated: int = 0  # tokens evaluated after the prompt (sampled and forced)
    steps: int = 0  # llama_decode calls
    rows: int = 0  # sequences that got logits, summed over steps
    decode_s: float = 0.0  # time in llama_decode
    sample_s: float = 0.0  # time in masks, sampling and bookkeeping after it


class BatchDecoder:
    """Sequences decoded together on their own llama.cpp context; one thread uses it at a time."""

    def __init__(self, loaded: Any, width: int, n_ctx: int, n_threads: int, fast_forward: bool = True) -> None:
        lib = loaded.lib
        self.m = loaded
        self.lib = lib
        self.width = width
        self.n_ctx = n_ctx  # per sequence, as for the single-sequence path
        self.fast_forward = fast_forward
        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx * width  # every slot can hold a full context: the cache never overflows
        self.n_batch = 512
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_seq_max = width
        params.kv_unified = True  # one buffer: a shared prefix is the same cells for every sequence
        # keep every position in sliding-window layers too (Gemma 3): a prefix copied from a sequence
        # that has moved past the window must still have all its cells
        params.swa_full = True
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the single-sequence context
        params.no_perf = True
        ctx = lib.llama_init_from_model(loaded.llm._model.model, params)
        if not ctx:
            raise RuntimeError(f"llama.cpp could not create a context for {width} sequences of {n_ctx} tokens")
        self.ctx = ctx
        self.mem = lib.llama_get_memory(ctx)
        self.batch = lib.llama_batch_init(self.n_batch, 0, 1)
        self.n_vocab = loaded.n_vocab
        self.stats = Stats()
        self._free = list(range(width - 1, -1, -1))
        self._kept: dict[int, list[int]] = {}  # free slot -> prompt whose cells it still holds
        self._active: dict[int, _Seq] = {}
        self._waiting: deque[_Seq] = deque()
        self.threads = n_threads
        log.info("batched decoding: %d sequences, %d threads, %d KV cells", width, n_threads, params.n_ctx)

    def abort(self) -> None:
        """Drop every sequence, waiting or active, without reporting (after an error)."""
        for seq in list(self._active.values()):
            self._release(seq, report=False)
        self._waiting.clear()

    def close(self) -> None:
        if self.batch is not None:
            self.lib.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx:
            self.lib.llama_free(self.ctx)
            self.ctx = None

    # -- queue -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return bool(self._active or self._waiting)

    def submit(self, prep: Prepared, on_done: Callable[[Decoded], None],
               cancelled: Callable[[], bool] | None = None, timeout_s: float | None = None) -> None:
        """Queue one request; ``on_done`` gets its Decoded from a later ``step()``."""
        seq = _Seq(prep=prep, slot=-1, on_done=on_done, cancelled=cancelled)
        if timeout_s:
            seq.state.deadline = prep.t0 + timeout_s
        self._waiting.append(seq)

    def run(self, preps: Sequence[Prepared], timeout_s: float | None = None) -> list[Decoded]:
        """Decode a list of requests to the end, ``width`` at a time."""
        out: list[Decoded | None] = [None] * len(preps)
        for i, p in enumerate(preps):
            self.submit(p, lambda d, i=i: out.__setitem__(i, d), timeout_s=timeout_s)
        while self.busy:
            self.step()
        return out  # type: ignore[return-value]

    # -- one step ------------------------------------------------------------------------------

    def step(self) -> None:
        """Admit waiting requests into free slots, evaluate one batch, sample every sequence once."""
        for seq in list(self._active.values()):
            if seq.cancelled is not None and seq.cancelled():
                self._release(seq, report=False)
        deferred: list[_Seq] = []
        while self._waiting and self._free:
            seq = self._waiting.popleft()
            if seq.cancelled is not None and seq.cancelled():
                continue
            if seq.prep.error is not None:
                seq.on_done(failed(seq.prep, seq.prep.error))
                continue
            if not self._admit(seq):
                deferred.append(seq)
        self._waiting.extendleft(reversed(deferred))
        if not self._active:
            return
        rows = self._fill()
        t0 = time.perf_counter()
        rc = self.lib.llama_decode(self.ctx, self.batch)
        t1 = time.perf_counter()
        self.stats.decode_s += t1 - t0
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc}) with {len(self._active)} sequences")
        self.stats.steps += 1
        self.stats.rows += len(rows)
        for seq, i in rows:
            try:
                done = self._sample(seq, i)
            except Exception as exc:  # one bad request must not sink the others
                log.exception("llama.cpp generation failed")
                self._release(seq, report=False)
                seq.on_done(failed(seq.prep, f"llama.cpp: {type(exc).__name__}: {exc}"))
                continue
            if done:
                self._release(seq, report=True)
        self.stats.sample_s += time.perf_counter() - t1

    def _admit(self, seq: _Seq) -> bool:
        """Give a waiting request a slot and the longest prompt prefix some sequence already holds;
        False (stays waiting) when an active sequence will hold a longer one after this step."""
        lib, p = self.lib, seq.prep
        tokens = p.tokens
        limit = len(tokens) - 1  # the last prompt token is always evaluated: its logits start decoding
        # a prefix is taken only up to a chunk end, as the single path takes it (prefix_states.py): the
        # cells after the split then come out as they do there, so width 1 decodes the single path's tokens
        ends = chunk_ends(tokens, self.m.breaks)
        ready, soon, source = 0, 0, -1
        for other in self._active.values():
            common = reusable(ends, min(common_prefix(other.prep.tokens, tokens), limit))
            have = reusable(ends, min(common, other.pos))  # pos: positions already evaluated
            if have > ready:
                ready, source = have, other.slot
            soon = max(soon, common)
        for slot, kept in self._kept.items():
            common = reusable(ends, min(common_prefix(kept, tokens), limit))
            if common > ready:
                ready, source = common, slot
        if soon >= ready + MIN_SHARE:
            return False
        if source in self._kept:  # reuse that very slot: trim its cells to the common prefix
            slot = source
            self._free.remove(slot)
            del self._kept[slot]
            lib.llama_memory_seq_rm(self.mem, slot, ready, -1)
        else:
            slot = min(self._free, key=lambda s: s in self._kept)  # a slot that keeps nothing, if any
            self._free.remove(slot)
            if self._kept.pop(slot, None) is not None:
                lib.llama_memory_seq_rm(self.mem, slot, -1, -1)
            if ready:
                lib.llama_memory_seq_cp(self.mem, source, slot, 0, ready)
        seq.slot = slot
        seq.chain = self.m.sampler(p.request, p.gbnf)
        if p.constraint is not None:
            p.constraint.reset()
        seq.pending = list(tokens[ready:])
        seq.pos = ready
        self.stats.prompt_tokens += len(tokens)
        self.stats.prompt_evaluated += len(seq.pending)
        self.stats.prefix_shared += ready
        self._active[slot] = seq
        return True

    def _clear(self) -> None:
        self.batch.n_tokens = 0

    def _add(self, token: int, pos: int, seq_id: int, logits: bool) -> None:
        b = self.batch
        j = b.n_tokens
        b.token[j] = token
        b.pos[j] = pos
        b.n_seq_id[j] = 1
        b.seq_id[j][0] = seq_id
        b.logits[j] = logits
        b.n_tokens = j + 1

    def _fill(self) -> list[tuple[_Seq, int]]:
        """Put every active sequence's pending tokens in the batch, generated tokens first; prompts
        longer than what is left are split over steps (logits only for a prompt's last token)."""
        self._clear()
        rows: list[tuple[_Seq, int]] = []
        order = sorted(self._active.values(), key=lambda s: len(s.pending))
        room = self.n_batch
        for seq in order:
            if not seq.pending or room <= 0:
                continue
            take = seq.pending[:room]
            last = len(take) == len(seq.pending)
            for j, t in enumerate(take):
                self._add(t, seq.pos + j, seq.slot, last and j == len(take) - 1)
            seq.pos += len(take)
            del seq.pending[:len(take)]
            room -= len(take)
            if last:
                rows.append((seq, self.batch.n_tokens - 1))
        return rows

    def _release(self, seq: _Seq, report: bool) -> None:
        """Free the slot; it keeps its prompt's cells (not the generated ones) for the next request."""
        n_prompt = len(seq.prep.tokens)
        if seq.pos >= n_prompt:
            self.lib.llama_memory_seq_rm(self.mem, seq.slot, n_prompt, -1)
            self._kept[seq.slot] = seq.prep.tokens
        else:
            self.lib.llama_memory_seq_rm(self.mem, seq.slot, -1, -1)
        if seq.chain is not None:
            self.lib.llama_sampler_free(seq.chain)
            seq.chain = None
        self._active.pop(seq.slot, None)
        self._free.append(seq.slot)
        if report:
            self.stats.generated += seq.state.n_gen
            seq.on_done(decoded(seq.prep, seq.state))

    def _row(self, i: int) -> np.ndarray:
        ptr = self.lib.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def _sample(self, s: _Seq, i: int) -> bool:
        """One decoding step of one sequence from its logits row ``i`` (`decode_step.step`); True when
        it is finished."""
        chain, ctx, sample_ith = s.chain, self.ctx, self.lib.llama_sampler_sample
        batch = step(self.m, s.prep, s.state, lambda: self._row(i), lambda: int(sample_ith(chain, ctx, i)),
                     self.fast_forward)
        if batch is None:
            return True
        s.pending = batch
        return False
