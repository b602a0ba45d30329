"""Fluency on the bundled GGUF: the perplexity scorer against llama.cpp's own log-probs, batched vs one at a time,
salad vs prose, the gate (concurrent checks scored in one batch)."""
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


ROWS = [
    TEXT,
    "Preheat the oven to 200 degrees, then bake the bread for thirty minutes until golden.",
    "window garden the mat birds looked sat cat of out at and in The on the the",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaves of plants.",
    "Dear Anna, thank you for the lovely flowers; they brighten the whole kitchen.",
    "1. Rinse the rice. 2. Add two cups of water. 3. Simmer for fifteen minutes with the lid on.",
    "the cat sat on the mat. " * 40,  # a loop: the model predicts it (perplexity under 1.8)
    "Canberra is the capital of Australia, not Sydney as many people think.",
    "def add(a, b):\n    return a + b",
    "Der Hund schläft neben dem warmen Ofen, während draußen der Schnee fällt.",
]


def test_batched_scores_equal_one_at_a_time(scorer):
    together = scorer.score_many(ROWS)  # ten texts in one llama_decode call (each its own sequence)
    alone = [scorer.score(t) for t in ROWS]
    assert [p.tokens for p in together] == [p.tokens for p in alone]
    for t, a in zip(together, alone):
        # batch mates change llama.cpp's summation order, nothing else
        assert t.mean_nll == pytest.approx(a.mean_nll, abs=0.05, rel=0.02)
    order = sorted(range(len(ROWS)), key=lambda i: together[i].perplexity)
    assert order[-1] == 2 and order[0] == 6  # salad worst, the loop lowest, batched or not


def test_a_text_longer_than_a_call_goes_on_in_the_next_one():
    from synthloom.quality.fluency import FluencyScorer

    small = FluencyScorer(n_batch=16, max_seqs=3, n_threads=1)  # every row spans calls, three sequences at most
    try:
        split = small.score_many(ROWS)
    finally:
        small.close()
    from synthloom.quality.fluency import fluency_scorer

    whole = fluency_scorer().score_many(ROWS)
    for a, b in zip(split, whole):
        assert a.tokens == b.tokens and a.mean_nll == pytest.approx(b.mean_nll, abs=0.05, rel=0.02)


def test_texts_are_scored_on_their_first_max_tokens(scorer):
    long = " ".join([TEXT] * 40)
    tokens, nll = scorer.token_nlls(long)
    assert len(tokens) == scorer.max_tokens + 1 and len(nll) == scorer.max_tokens


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


def test_gate_scores_concurrent_checks_in_one_batch():
    from synthloom.quality.fluency import FluencyGate, fluency_scorer

    gate = FluencyGate(max_perplexity=200, min_perplexity=1.8)
    scorer = fluency_scorer()
    calls = []
    original = scorer.score_many
    scorer.score_many = lambda texts: calls.append(len(texts)) or original(texts)
    try:
        async def all_at_once():
            recs = [Record({"instruction": "Say something.", "output": t}) for t in ROWS[:7]]
            return await asyncio.gather(*(gate.check(r, GateContext()) for r in recs))

        out = asyncio.run(all_at_once())
    finally:
        del scorer.score_many
    assert calls == [7]
    kinds = ["Record", "Record", "Rejection", "Record", "Record", "Record", "Rejection"]
    assert [type(o).__name__ for o in out] == kinds
    assert (out[2].reason, out[6].reason) == ("disfluent", "degenerate")
    alone = [scorer.score(t).perplexity for t in ROWS[:7]]
    got = [math.log(o.meta["scores"]["perplexity"]) for o in out]
    assert got == pytest.approx([math.log(a) for a in alone], abs=0.05)  # as in the batched-vs-alone test


def test_conditional_nlls_score_only_the_text_after_its_context(scorer):
    # no context: the text's own nlls, token for token
    (alone,) = scorer.conditional_nlls([("", TEXT)])
    assert alone == pytest.approx(scorer.token_nlls(TEXT)[1], abs=1e-3)
    # a context that predicts the text makes it likelier than one that does not; only the text is scored
    fit, unfit = scorer.conditional_nlls([
        ("Question: What is the capital of France?\nAnswer:", " The capital of France is Paris."),
        ("Question: How many legs does a spider have?\nAnswer:", " The capital of France is Paris."),
    ])
    assert len(fit) == len(unfit) == len(scorer.llm.tokenize(b" The capital of France is Paris.", add_bos=False))
    assert sum(fit) < sum(unfit)


def test_every_kth_token_scores_those_tokens_only(scorer):
    tokens, full = scorer.token_nlls(TEXT)
    (third,) = scorer.nlls_many([tokens], every=3)
    assert third == pytest.approx(full[::3], abs=2e-3)  # the first scored token, the fourth, ...
    (p,) = scorer.score_many([TEXT], every=3)
    assert p.tokens == len(full[::3]) and p.mean_nll == pytest.approx(sum(full[::3]) / len(full[::3]), abs=2e-3)
    with pytest.raises(ValueError, match="every must be at least 1"):
        scorer.nlls_many([tokens], every=0)
