"""One decoding step for both llama.cpp loops (llm/decode_step.py): the single-sequence path and the
batched one at width 1 decode the same tokens, on the real bundled model."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from synthloom.config.models import LlamaCppModel
from synthloom.llm.batched import BatchDecoder
from synthloom.llm.decode_step import Decoding, Prepared, copy_guard, decoded, prepare, result, step
from synthloom.llm.llamacpp import LlamaCppLLM
from synthloom.llm.types import GenerationRequest

PERSON = {"name": "Ana Silva", "city": "Lisbon", "plan": "pro", "note": "Asked twice about the annual invoice."}
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}, "city": {"type": "string"},
                   "plan": {"enum": ["free", "pro"]}, "note": {"type": "string"}},
    "required": ["name", "city", "plan", "note"], "additionalProperties": False,
}

SHOTS = (
    {"role": "system", "content": "Write one JSON record about a customer."},
    {"role": "user", "content": "a customer"},
    {"role": "assistant", "content": json.dumps(PERSON)},
    {"role": "user", "content": "another customer"},
)


# -- the step's own logic, on a fake vocabulary (no model) ------------------------------------------

PIECES = {0: b"", 1: b"Mon", 2: b"day", 3: b", ", 4: b"Tues", 5: b"STOP", 6: b"x"}


class FakeModel:
    """What `step` reads of a loaded model: token texts and end-of-generation."""

    def piece(self, token: int) -> bytes:
        return PIECES[token]

    def is_eog(self, token: int) -> bool:
        return token == 0

    def digit_tokens(self) -> list[int]:
        return []


def run_free(script: list[int], budget: int = 50, stops=(), deadline=None, avoid=()) -> tuple[Decoding, list]:
    req = GenerationRequest(prompt="p", stop=tuple(stops), avoid=tuple(avoid), max_tokens=budget)
    p = Prepared(req, [2, 7], budget, [s.encode() for s in stops], None, None, time.perf_counter(),
                 guard=copy_guard(req))
    s = Decoding(deadline=deadline)
    tokens = iter(script)
    logits = np.zeros(len(PIECES), dtype=np.float32)
    evaluated = []
    while (batch := step(FakeModel(), p, s, lambda: logits, lambda: next(tokens))) is not None:
        evaluated.append(batch)
    return s, evaluated


def test_step_ends_at_the_budget_end_of_generation_a_stop_string_and_the_deadline():
    s, evaluated = run_free([1, 2, 3, 4, 2, 3], budget=4)
    assert (bytes(s.out), s.finish, s.cut_by, s.n_gen) == (b"Monday, Tues", "length", "max_tokens", 4)
    assert evaluated == [[1], [2], [3]]  # the last token is never evaluated: nothing reads its logits
    s, _ = run_free([1, 2, 0, 3])
    assert (bytes(s.out), s.finish) == (b"Monday", "stop")
    s, _ = run_free([1, 2, 3, 5, 6], stops=["STOP"])
    assert (bytes(s.out), s.finish, s.n_gen) == (b"Monday, ", "stop", 4)  # the stop string is cut off
    s, _ = run_free([1, 2, 3], deadline=time.perf_counter() - 1)
    assert (bytes(s.out), s.finish, s.cut_by) == (b"Mon", "length", "request_timeout_s")


def test_a_request_cut_by_its_deadline_says_so_in_its_result():
    s, _ = run_free([1, 2, 3], deadline=time.perf_counter() - 1)
    req = GenerationRequest(prompt="p", json_schema={"type": "object"})
    p = Prepared(req, [2, 7], 50, [], None, None, time.perf_counter())
    r = result(req, decoded(p, s), "fake")
    assert r.finish_reason == "length" and r.error_kind == "truncated" and "request_timeout_s" in r.error


def test_the_copy_guard_resamples_a_token_that_would_copy_an_example():
    # "MondayMonday" would be 12 bytes of the 12-byte example: more than half of it; "x" is taken instead
    s, _ = run_free([1, 2, 1, 2, 6, 0], avoid=["MondayMonday"])
    assert bytes(s.out) == b"MondayMonx"


# -- both loops on the bundled model -----------------------------------------------------------------

def requests() -> list[tuple[GenerationRequest, str]]:
    """Sampled and greedy, constrained (a string the grammar closes at maxLength, a copy guard, a
    cut at max_tokens, llama.cpp's GBNF sampler) and free with a stop string; one prompt, so each
    request after the first takes its prefix from the previous one on both paths."""
    return [
        (GenerationRequest(messages=SHOTS, json_schema=SCHEMA, max_tokens=60, temperature=1.0, seed=1), "llguidance"),
        (GenerationRequest(messages=SHOTS, json_schema=SCHEMA, max_tokens=60, temperature=1.0, seed=2), "llguidance"),
        (GenerationRequest(messages=SHOTS, json_schema=SCHEMA, max_tokens=60, temperature=1.0, seed=3,
                           avoid=(PERSON["note"],)), "llguidance"),
        (GenerationRequest(messages=SHOTS, json_schema=SCHEMA, max_tokens=9, temperature=0.0), "llguidance"),
        (GenerationRequest(messages=SHOTS, json_schema=SCHEMA, max_tokens=16, temperature=0.7, seed=4), "grammar"),
        (GenerationRequest(prompt="Monday, Tuesday, Wednesday,", max_tokens=30, temperature=0.9, seed=5,
                           stop=("Saturday",)), "none"),
    ]


@pytest.mark.model
def test_single_and_batched_width_1_decode_the_same_tokens_for_the_same_seed():
    backend = LlamaCppLLM(LlamaCppModel(n_threads=1))
    try:
        m = backend._model()
        width_1 = BatchDecoder(m, 1, backend._cfg.n_ctx, m.threads)
        try:
            reqs = requests()
            single = [backend._decode(m, prepare(m, r, mode, backend._cfg.n_ctx)) for r, mode in reqs]
            batched = width_1.run([prepare(m, r, mode, backend._cfg.n_ctx) for r, mode in reqs])
        finally:
            width_1.close()
    finally:
        backend._unload()
    for (req, mode), a, b in zip(reqs, single, batched):
        assert a.error is None and b.error is None, (a.error, b.error)
        assert (a.tokens, a.text, a.finish, a.completion_tokens, a.overridden) == \
               (b.tokens, b.text, b.finish, b.completion_tokens, b.overridden), (mode, a.text, b.text)
    # the requests exercise what the step decides: seeds that differ, grammar-chosen spans, the
    # max_tokens cut, a stop string
    texts = [d.text for d in single]
    assert len({texts[0], texts[1], texts[2]}) == 3
    assert all(d.overridden for d in single[:4])  # llguidance forced separators and property names
    assert single[3].finish == "length" and single[3].completion_tokens == 9
    assert "Saturday" not in single[5].text
    assert PERSON["note"] not in single[2].text
