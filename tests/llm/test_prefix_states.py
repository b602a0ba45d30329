"""The store of prompt KV states: which prompt it offers, what it keeps, what it drops (logic, on a
stand-in for llama.cpp's state calls; test_llamacpp.py runs it on the real model)."""
from __future__ import annotations

from synthloom.llm.prefix_states import MIN_GAIN, PrefixStates, common_prefix


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


def test_best_prefix_restore_and_replacement():
    lib = FakeLib()
    states = PrefixStates(lib, ctx=None)
    for head in (1, 2):
        lib.cells = prompt(head, 300)
        states.save(lib.cells)
    assert len(states) == 2
    new = prompt(1, 300, tail=5)
    length, key = states.best(new, len(new) - 1)
    assert length == 300 and key == tuple(prompt(1, 300))
    assert states.restore(key, length) and lib.cells == prompt(1, 300)[:300] and states.restored == 1
    # the new prompt covers the stored one but for its last 10 tokens: it replaces it
    lib.cells = new
    states.save(new)
    assert len(states) == 2 and states.best(prompt(1, 300, tail=9), 400)[1] == tuple(new)


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
