"""ROUGE-L scores and pool answers match rouge_score exactly (brute force over the pool)."""
import random

import pytest

from synthloom.quality.rouge import RougePool, lcs_length, rouge_l, tokenize

rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)

WORDS = ("the a of write list give explain poem story sea sky three five reasons why how "
         "summarize translate french sentence email friend classify sentiment review positive "
         "negative number numbers sort python function code").split()


def _random_text(rng: random.Random) -> str:
    n = rng.randint(1, 25)
    words = [rng.choice(WORDS) for _ in range(n)]
    seps = [" ", " ", ", ", "-", "! ", "'s "]
    return "".join(w + rng.choice(seps) for w in words).strip().capitalize()


@pytest.mark.parametrize(
    "text",
    ["Hello, World!", "Don't stop-believing", "Café au lait 2x", "   ", "", "ÀÉÎ résumé naïve", "K-means (Kelvin)",
     "tab\tand\nnewline", "snake_case and CamelCase42"],
)
def test_tokenizer_matches_rouge_score(text):
    from rouge_score import tokenize as rs_tok

    assert tokenize(text) == rs_tok.tokenize(text, None)


def test_rouge_l_matches_rouge_score_on_random_pairs():
    rng = random.Random(0)
    for _ in range(2000):
        a, b = _random_text(rng), _random_text(rng)
        assert rouge_l(a, b) == SCORER.score(a, b)["rougeL"].fmeasure


def test_lcs_length_matches_dynamic_programming():
    rng = random.Random(1)
    for _ in range(500):
        a = [rng.randint(0, 5) for _ in range(rng.randint(0, 30))]
        b = [rng.randint(0, 5) for _ in range(rng.randint(0, 30))]
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(len(a)):
            for j in range(len(b)):
                table[i + 1][j + 1] = table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
        assert lcs_length(a, b) == table[-1][-1]


def test_lcs_handles_texts_longer_than_a_machine_word():
    a = ["w%d" % i for i in range(200)]
    b = a[::2] + ["x"] * 50
    assert lcs_length(a, b) == 100


def test_pool_best_match_equals_brute_force():
    rng = random.Random(2)
    pool_texts = [_random_text(rng) for _ in range(200)]
    pool = RougePool(pool_texts)
    for _ in range(120):
        q = _random_text(rng) if rng.random() < 0.7 else rng.choice(pool_texts) + " " + rng.choice(WORDS)
        scores = [SCORER.score(t, q)["rougeL"].fmeasure for t in pool_texts]
        best = max(scores)
        for floor in (0.0, 0.5, 0.7):
            got, idx = pool.best_match(q, floor=floor)
            if best > floor:
                assert got == best
                assert scores[idx] == best
            else:
                assert (got, idx) == (0.0, None)


def test_threshold_is_strictly_greater_than():
    # 7-token LCS over 10+10 tokens: F = 0.7 exactly, which Self-Instruct keeps (it rejects > 0.7)
    a = "one two three four five six seven eight nine ten"
    b = "one two three four five six seven x y z"
    pool = RougePool([a])
    assert pool.exceeds(b, 0.7) == (0.0, None)
    assert pool.exceeds(b, 0.69)[1] == 0


def test_empty_inputs():
    pool = RougePool()
    assert pool.best_match("anything") == (0.0, None)
    pool.add("write a poem")
    assert pool.best_match("!!!") == (0.0, None)
    assert rouge_l("", "x") == 0.0


def test_pool_grows_and_finds_new_texts():
    pool = RougePool(["Write a poem about the sea."])
    assert pool.exceeds("Give three reasons to learn French.", 0.7) == (0.0, None)
    i = pool.add("Give three reasons to learn French.")
    score, idx = pool.exceeds("Give three good reasons to learn French.", 0.7)
    assert idx == i and score > 0.9
    assert len(pool) == 2


def test_all_above_equals_brute_force():
    rng = random.Random(3)
    texts = [_random_text(rng) for _ in range(200)]
    pool = RougePool(texts)
    for _ in range(60):
        q = rng.choice(texts) if rng.random() < 0.5 else _random_text(rng)
        scores = [SCORER.score(t, q)["rougeL"].fmeasure for t in texts]
        want = sorted(((s, i) for i, s in enumerate(scores) if s > 0.6), key=lambda h: (-h[0], h[1]))
        assert pool.all_above(q, 0.6) == want


def test_prefix_filter_path_is_exact_on_a_large_vocabulary():
    """Rare-word queries take the prefix-filter path; answers must still equal a brute-force scan."""
    rng = random.Random(4)
    vocab = ["w%d" % i for i in range(4000)]
    common = ["the", "a", "of", "to"]

    def text():
        return " ".join(rng.choice(common) if rng.random() < 0.2 else rng.choice(vocab)
                        for _ in range(rng.randint(4, 20)))

    texts = [text() for _ in range(1500)]
    pool = RougePool(texts)
    for _ in range(60):
        if rng.random() < 0.5:
            words = rng.choice(texts).split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            q = " ".join(words)
        else:
            q = text()
        scores = [rouge_l(t, q) for t in texts]
        best = max(scores)
        got, idx = pool.exceeds(q, 0.7)
        assert (got, idx) == ((best, idx) if best > 0.7 else (0.0, None))
        if idx is not None:
            assert scores[idx] == best
        want = sorted(((s, i) for i, s in enumerate(scores) if s > 0.5), key=lambda h: (-h[0], h[1]))
        assert pool.all_above(q, 0.5) == want
