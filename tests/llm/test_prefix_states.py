"""The store of prompt KV states: which prompt it offers, what it keeps, what it drops (logic, on a
stand-in for llama.cpp's state calls; test_llamacpp.py runs it on the real model)."""
from __future__ import annotations

import pytest

from synthloom.llm.prefix_states import BLOCK, MIN_GAIN, PrefixStates, aligned, blocks, common_prefix


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


def test_prompts_are_evaluated_in_blocks_counted_from_token_0():
    assert BLOCK == 64 and aligned(0) == 0 and aligned(63) == 0 and aligned(64) == 64 and aligned(300) == 256
    assert blocks(0, 150) == [(0, 64), (64, 128), (128, 150)]
    assert blocks(64, 128) == [(64, 128)] and blocks(128, 128) == []
    with pytest.raises(ValueError):
        blocks(10, 150)  # a reused prefix always ends on a block boundary


def test_best_prefix_restore_and_replacement():
    lib = FakeLib()
    states = PrefixStates(lib, ctx=None)
    for head in (1, 2):
        lib.cells = prompt(head, 300)
        states.save(lib.cells)
    assert len(states) == 2
    new = prompt(1, 300, tail=5)
    # 300 tokens in common, but only whole blocks are offered: 256
    length, key = states.best(new, len(new) - 1)
    assert length == 256 and key == tuple(prompt(1, 300)[:256])
    assert states.best(new, 200) == (192, key)  # the limit is rounded down to a block too
    assert states.restore(key, length) and lib.cells == prompt(1, 300)[:256] and states.restored == 1
    # a longer prompt that covers the stored one replaces it
    lib.cells = prompt(1, 400)
    states.save(lib.cells)
    assert len(states) == 2 and states.best(prompt(1, 400, tail=9), 500) == (384, tuple(prompt(1, 400)[:384]))


def test_the_last_partial_block_is_never_restored():
    lib = FakeLib()
    states = PrefixStates(lib, ctx=None)
    lib.cells = prompt(3, BLOCK - 20)  # shorter than a block: nothing to keep
    states.save(lib.cells)
    assert len(states) == 0
    lib.cells = prompt(3, 100)
    states.save(lib.cells)
    assert states.best(prompt(3, 100, tail=1), 200) == (BLOCK, tuple(prompt(3, 100)[:BLOCK]))


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
    assert len(states) == 3 and states.best(prompt(1, 300), 400)[0] == 0  # the oldest is gone
    big = PrefixStates(lib, ctx=None, max_bytes=1_500)  # one 620-byte state fits twice, not three times
    for head in range(1, 4):
        lib.cells = prompt(head, 300)
        big.save(lib.cells)
    assert len(big) == 2
