"""Fluency on the bundled GGUF: the perplexity scorer against llama.cpp's own log-probs, salad vs prose, the gate."""
from __future__ import annotations

import asyncio
import math

import pytest

from synthloom.quality.base import GateContext
from synthloom.records import Record, Rejection

pytestmark = pytest.mark.model

TEXT = "The cat sat on the mat and looked out of the window at the birds in the garden."


@pytest.fixture(scope="module")
def scorer():
    from synthloom.quality.fluency import fluency_scorer

    return fluency_scorer()


def test_log_probs_match_llama_cpp_own(scorer):
    from synthloom.llm.llamacpp import open_llama
    from synthloom.llm.model_files import resolve_model

    ref = open_llama(resolve_model(None)[0], n_ctx=64, logits_all=True, verbose=False)
    try:
        out = ref.create_completion(TEXT, max_tokens=1, echo=True, logprobs=1, temperature=0.0)
    finally:
        ref.close()
    theirs = out["choices"][0]["logprobs"]["token_logprobs"]
    tokens, nll = scorer.token_nlls(TEXT)
    # llama.cpp leaves the first text token unscored (None); from the second on, one log-prob per token
    n = len(tokens) - 1
    assert len(nll) == n and theirs[0] is None
    for ours, ref_lp in zip(nll[1:], theirs[1:n]):
        assert math.isclose(-ours, float(ref_lp), abs_tol=2e-3)


def test_cache_reuse_gives_the_same_numbers(scorer):
    fresh = scorer.score(TEXT)
    scorer.score("Something else entirely, to move the cache.")
    longer = TEXT + " Then it fell asleep."
    _, nll_long = scorer.token_nlls(longer)  # shares TEXT's tokens with the cached text: only the tail is evaluated
    scorer.score("Reset.")
    _, nll_long_fresh = scorer.token_nlls(longer)
    assert nll_long == pytest.approx(nll_long_fresh, abs=1e-3)
    assert scorer.score(TEXT).perplexity == pytest.approx(fresh.perplexity, rel=1e-4)


def test_word_salad_scores_worse_than_prose(scorer):
    words = TEXT.split()
    salad = " ".join(words[::2] + words[1::2][::-1])
    assert scorer.score(salad).perplexity > 3 * scorer.score(TEXT).perplexity


def test_gate_rejects_salad_and_loops_and_keeps_prose():
    from synthloom.quality.fluency import FluencyGate

    gate = FluencyGate(max_perplexity=200, min_perplexity=1.8)

    def check(text):
        return asyncio.run(gate.check(Record({"instruction": "Describe a cat.", "output": text}), GateContext()))

    ok = check(TEXT)
    assert isinstance(ok, Record) and 1.8 < ok.meta["scores"]["perplexity"] < 200
    salad = check("window garden the mat birds looked sat cat of out at and in The on the the")
    assert isinstance(salad, Rejection) and salad.reason == "disfluent"
    loop = check("the cat sat on the mat. " * 40)
    assert isinstance(loop, Rejection) and loop.reason == "degenerate"
    short = check("Canberra.")
    assert isinstance(short, Record) and short.meta["scores"]["perplexity"] is None
