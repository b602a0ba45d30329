"""Prompt KV states kept in memory, so the single-sequence path reuses more than the last prompt.

The llama.cpp context of the single-sequence path holds one sequence: by itself it can only reuse
the prefix a prompt shares with the one before it. Recipes vary their prompts on purpose (the
few-shot examples are shuffled per slot, so the demo recipe cycles through 6 orders of its 3
examples), and then consecutive prompts share little more than the system text: on 2 cores the
demo spent 20 s of its 72 s evaluating prompts (28,218 tokens, 421 per call).

After each prompt is evaluated, its cells are copied out (``llama_state_seq_get_data``, ~18 KB a
token for Gemma 3 270M) into a small LRU store. The next prompt takes the longest common prefix
from the live context or from a stored state, whichever is longer (``llama_state_seq_set_data``,
then the cells past the common prefix are dropped), and evaluates only the rest.

Reuse must not change a prompt's output. llama.cpp's CPU kernels sum in an order that depends on
how many tokens a ``llama_decode`` call carries, so a prefix evaluated as part of a 400-token batch
and the same prefix evaluated as part of a 300-token batch hold slightly different KV cells, and at
temperature 0 a near-tie between two tokens can flip (issue 37). So every prompt is evaluated in
chunks whose ends depend only on the tokens before them (`chunk_ends`: after a line break once a
chunk has MIN_CHUNK tokens, else at MAX_CHUNK tokens), and a prefix is reused only up to a chunk end
(`reusable`). Two prompts that share a prefix cut it into the same chunks, so a chunk's cells are
always computed from the same tokens, in a call of the same size, on top of the same earlier cells
at the same cell indices, whether they come from a fresh context, the live context or a stored
state, and a request decodes to the same tokens whatever came before it (tests/llm/test_llamacpp.py
checks it on the bundled model; docs/determinism.md). Line breaks end the chunks because prompts
differ after a line: the demo's prompts share their instruction and examples and differ in the last
``Input:`` line, so a chunk ends where the shared part ends: the demo's 52 prompts evaluate 2,272
tokens, against 3,086 in fixed 64-token blocks and 1,817 when any prefix was reused (docs/determinism.md).
"""
from __future__ import annotations

import ctypes
import logging
from bisect import bisect_right
from collections import OrderedDict
from typing import Any, Callable, Sequence

log = logging.getLogger("synthloom.llm.llamacpp")

MAX_STATES = 8  # prompts kept
MAX_BYTES = 256 * 2**20  # and at most this much memory for them
MIN_GAIN = 32  # tokens: a stored state is restored only when it saves at least this much evaluation
MIN_CHUNK = 32  # tokens: a chunk of a prompt's evaluation ends after the first line break past this many
MAX_CHUNK = 128  # and at this many tokens without one


def chunk_ends(tokens: Sequence[int], breaks: Callable[[int], bool]) -> list[int]:
    """Where the evaluation calls of a prompt end, the last at ``len(tokens)``.

    A chunk ends after the first token at or past its MIN_CHUNK-th whose text has a line break
    (``breaks``), or after MAX_CHUNK tokens. Each end depends only on the tokens before it, so a
    prompt that shares the first ``n`` tokens with another has the same ends up to ``n``."""
    ends: list[int] = []
    start, n = 0, len(tokens)
    while start < n:
        end = min(start + MAX_CHUNK, n)
        for i in range(start + MIN_CHUNK - 1, end):
            if breaks(tokens[i]):
                end = i + 1
                break
        ends.append(end)
        start = end
    return ends


def reusable(ends: Sequence[int], n: int) -> int:
    """The longest prefix of at most ``n`` tokens that ends where a chunk ends (0: none)."""
    return ends[bisect_right(ends, n) - 1] if ends and ends[0] <= n else 0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i + 64 <= n and list(a[i:i + 64]) == list(b[i:i + 64]):  # prompts share hundreds of tokens
        i += 64
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixStates:
    """An LRU of (prompt tokens -> saved KV cells of sequence 0) for one llama.cpp context."""

    def __init__(self, lib: Any, ctx: Any, max_states: int = MAX_STATES, max_bytes: int = MAX_BYTES) -> None:
        self.lib = lib
        self.ctx = ctx
        self.max_states = max_states
        self.max_bytes = max_bytes
        self._states: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._bytes = 0
        self.restored = 0  # prompts that took their prefix from a stored state
        self.saved_tokens = 0  # prompt tokens those restores did not evaluate

    def best(self, tokens: Sequence[int], limit: int, ends: Sequence[int]) -> tuple[int, tuple[int, ...] | None]:
        """The longest prefix of ``tokens`` (at most ``limit``, ending at one of its chunk ``ends``)
        a stored state holds, and its key."""
        length, key = 0, None
        for k in self._states:
            c = reusable(ends, min(common_prefix(k, tokens), limit))
            if c > length:
                length, key = c, k
        return length, key

    def restore(self, key: tuple[int, ...], keep: int) -> bool:
        """Replace sequence 0's cells by the stored state's first ``keep`` positions; False if llama.cpp refused."""
        buf = self._states[key]
        lib = self.lib
        mem = lib.llama_get_memory(self.ctx)
        lib.llama_memory_seq_rm(mem, 0, -1, -1)
        if lib.llama_state_seq_set_data(self.ctx, buf, len(buf), 0) == 0:
            lib.llama_memory_seq_rm(mem, 0, -1, -1)
            return False
        if not lib.llama_memory_seq_rm(mem, 0, keep, -1):
            lib.llama_memory_seq_rm(mem, 0, -1, -1)
            return False
        self._states.move_to_end(key)
        self.restored += 1
        return True

    def save(self, tokens: Sequence[int]) -> None:
        """Keep the cells of the prompt just evaluated (sequence 0 holds exactly ``tokens``).

        A stored prompt that the new one covers up to its last MIN_GAIN * 2 tokens is replaced by
        it, so the store keeps different prefixes rather than one prefix many times."""
        key = tuple(tokens)
        if key in self._states:
            self._states.move_to_end(key)
            return
        lib = self.lib
        size = lib.llama_state_seq_get_size(self.ctx, 0)
        if size <= 0 or size > self.max_bytes:
            return
        buf = (ctypes.c_uint8 * size)()
        if lib.llama_state_seq_get_data(self.ctx, buf, size, 0) != size:
            return
        for k in list(self._states):
            if len(k) - common_prefix(k, key) < 2 * MIN_GAIN:
                self._drop(k)
        self._states[key] = buf
        self._bytes += size
        while self._states and (len(self._states) > self.max_states or self._bytes > self.max_bytes):
            self._drop(next(iter(self._states)))

    def _drop(self, key: tuple[int, ...]) -> None:
        buf = self._states.pop(key)
        self._bytes -= len(buf)

    def clear(self) -> None:
        self._states.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._states)
