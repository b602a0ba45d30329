"""The store of prompt KV states: which prompt it offers, what it keeps, what it drops (logic, on a
stand-in for llama.cpp's state calls; test_llamacpp.py runs it on the real model)."""
from __future__ import annotations

import pytest

from synthloom.llm.prefix_states import (MAX_CHUNK, MIN_CHUNK, MIN_GAIN, PrefixStates, chunk_ends, common_prefix,
                                        reusable)


class FakeLib:
    """Sequence 0's cells as a list of tokens; a state is their bytes."""

    def __init__(self) -> None:
        self.cells: list[int] = []

    def llama_get_memory(self, ctx):
        return ctx

    def llama_memory_seq_rm(self, mem, seq, p0, p1):
        self.cells = self.cells[: max(p0, 0)] if p0 >= 0 else []
        return True

    def llama_state_seq_get_size(self, ctx, seq):
        return 2 * len(self.cells)

    def llama_state_seq_get_data(self, ctx, buf, size, seq):
        for i, t in enumerate(self.cells):
            buf[2 * i], buf[2 * i + 1] = t // 256, t % 256
        return size

    def llama_state_seq_set_data(self, ctx, buf, size, seq):
        self.cells = [buf[i] * 256 + buf[i + 1] for i in range(0, size, 2)]
        return size


def prompt(head: int, n: int, tail: int = 0) -> list[int]:
    return [head] * n + [1000 + tail] * 10


def test_common_prefix():
    a = list(range(200))
    assert common_prefix(a, a) == 200
    assert common_prefix(a, a[:70] + [-1] + a[71:]) == 70
    assert common_prefix(a, []) == 0


NL = 9  # the stand-in's line-break token


def newline(token: int) -> bool:
    return token == NL


def test_chunks_end_after_a_line_break_past_min_chunk_or_at_max_chunk():
    assert (MIN_CHUNK, MAX_CHUNK) == (32, 128)
    line = [1] * 39 + [NL]  # 40 tokens a line
    assert chunk_ends(line * 3, newline) == [40, 80, 120]
    assert chunk_ends([1, NL] * 40, newline) == [32, 64, 80]  # short lines: at least 32 tokens
    assert chunk_ends([1] * 300, newline) == [128, 256, 300]  # no line break: 128 tokens
    assert chunk_ends([], newline) == []
    # an end depends only on the tokens before it: a prompt that shares 81 tokens has the same ends up to 81
    a, b = line * 3, line * 2 + [NL] + [2] * 60
    assert [e for e in chunk_ends(a, newline) if e <= 81] == [e for e in chunk_ends(b, newline) if e <= 81] == [40, 80]
    assert reusable([40, 80, 120], 119) == 80 and reusable([40, 80, 120], 120) == 120 and reusable([40, 80], 39) == 0


def ends(tokens):
    return chunk_ends(tokens, newline)


def lines(head: int, n: int, tail: int = 0) -> list[int]:
    """``n`` lines of 40 tokens (39 x ``head`` and a line break), then a last line of 10."""
    return ([head] * 39 + [NL]) * n + [1000 + tail] * 10


def test_best_prefix_restore_and_replacement():
    lib = FakeLib()
    states = PrefixStates(lib, ctx=None)
    for head in (1, 2):
        lib.cells = lines(head, 8)
        states.save(lib.cells)
    assert len(states) == 2
    new = lines(1, 8, tail=5)
    # 320 tokens in common, and a chunk ends at 320
    length, key = states.best(new, len(new) - 1, ends(new))
    assert length == 320 and key == tuple(lines(1, 8))
    assert states.best(new, 250, ends(new)) == (240, key)  # at most the limit, at a chunk end
    assert states.restore(key, length) and lib.cells == lines(1, 8)[:320] and states.restored == 1
    # the new prompt covers the stored one but for its last 10 tokens: it replaces it
    lib.cells = new
    states.save(new)
    other = lines(1, 8, tail=9)
    assert len(states) == 2 and states.best(other, 400, ends(other)) == (320, tuple(new))


def test_a_prefix_is_reused_only_up_to_a_chunk_end():
    lib = FakeLib()
    states = PrefixStates(lib, ctx=None)
    lib.cells = [1] * 300  # no line break: chunks end at 128 and 256
    states.save(lib.cells)
    new = [1] * 200 + [2] * 40
    assert states.best(new, len(new) - 1, ends(new)) == (128, tuple(lib.cells))


def test_a_prompt_sharing_little_is_kept_beside_the_others():
    lib = FakeLib()
    states = PrefixStates(lib, ctx=None)
    lib.cells = prompt(1, 300)
    states.save(lib.cells)
    lib.cells = prompt(1, 100) + [7] * (2 * MIN_GAIN + 10)
    states.save(lib.cells)
    assert len(states) == 2


def test_least_recently_used_goes_first_and_memory_is_bounded():
    lib = FakeLib()
    states = PrefixStates(lib, ctx=None, max_states=3, max_bytes=10_000)
    for head in range(1, 5):
        lib.cells = prompt(head, 300)
        states.save(lib.cells)
    assert len(states) == 3 and states.best(prompt(1, 300), 400, ends(prompt(1, 300)))[0] == 0  # the oldest is gone
    big = PrefixStates(lib, ctx=None, max_bytes=1_500)  # one 620-byte state fits twice, not three times
    for head in range(1, 4):
        lib.cells = prompt(head, 300)
        big.save(lib.cells)
    assert len(big) == 2
