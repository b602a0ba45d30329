"""How fast is the Self-Instruct ROUGE-L pool check at scale?

Builds a pool of N synthetic instructions (Zipf-distributed vocabulary, common
instruction verbs and function words, a share of paraphrase-like near
duplicates), then times `RougePool.exceeds(candidate, 0.7)` for fresh
candidates, and compares with a brute-force scan through `rouge_score` on a
sample of the pool (extrapolated to the whole pool).

    python benchmarks/rouge_pool.py --pool 50000 --queries 500
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from synthloom.quality.rouge import RougePool

VERBS = ("write explain list give describe summarize translate classify generate create compare find "
         "suggest identify rewrite convert calculate tell design outline predict").split()
FUNCTION = ("the a an of to and in for on with about that is are be this your from by as it".split())


def make_vocab(rng: random.Random, size: int = 20000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = set()
    while len(vocab) < size:
        vocab.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(vocab)


class TextMaker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocab = make_vocab(self.rng)
        # Zipf weights for content words
        self.weights = [1.0 / (r + 1) for r in range(len(self.vocab))]
        self.cum = []
        acc = 0.0
        for w in self.weights:
            acc += w
            self.cum.append(acc)

    def word(self) -> str:
        if self.rng.random() < 0.4:
            return self.rng.choice(FUNCTION)
        return self.rng.choices(self.vocab, cum_weights=self.cum)[0]

    def instruction(self) -> str:
        n = max(4, int(self.rng.lognormvariate(2.5, 0.5)))  # median ~12 words, long tail
        words = [self.rng.choice(VERBS)] + [self.word() for _ in range(n - 1)]
        return " ".join(words).capitalize() + "."

    def near_duplicate(self, text: str) -> str:
        words = text.rstrip(".").split()
        i = self.rng.randrange(len(words))
        words[i] = self.word()
        return " ".join(words) + "."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", type=int, default=50000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--brute-sample", type=int, default=2000)
    args = ap.parse_args()

    maker = TextMaker(0)
    texts = [maker.instruction() for _ in range(args.pool)]
    for i in range(0, args.pool, 20):  # 5% near duplicates of earlier texts
        if i:
            texts[i] = maker.near_duplicate(texts[maker.rng.randrange(i)])
    t0 = time.perf_counter()
    pool = RougePool(texts)
    build_s = time.perf_counter() - t0

    queries = [maker.instruction() for _ in range(args.queries)]
    queries += [maker.near_duplicate(maker.rng.choice(texts)) for _ in range(args.queries // 10)]
    times, hits = [], 0
    pool.scored = 0
    cpu0 = time.process_time()
    for q in queries:
        t = time.perf_counter()
        score, idx = pool.exceeds(q, 0.7)
        times.append(time.perf_counter() - t)
        hits += idx is not None
    cpu_per_query = (time.process_time() - cpu0) / len(queries)
    # add-then-check cycle (what a run does): check, then add the accepted text
    add_t = []
    for q in queries[: args.queries // 5]:
        t = time.perf_counter()
        pool.add(q)
        add_t.append(time.perf_counter() - t)

    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    sample = texts[: args.brute_sample]
    t = time.perf_counter()
    for q in queries[:5]:
        for s in sample:
            scorer.score(s, q)
    brute_per_query = (time.perf_counter() - t) / 5 * (len(texts) / len(sample))

    times_ms = sorted(x * 1000 for x in times)
    print(f"pool size            {args.pool}")
    print(f"index build          {build_s:.2f} s ({build_s / args.pool * 1e6:.1f} us per text)")
    print(f"queries              {len(queries)} ({hits} above 0.7)")
    print(f"check mean           {statistics.mean(times_ms):.3f} ms wall, {cpu_per_query * 1000:.3f} ms CPU")
    print(f"check p50 / p95 / max {times_ms[len(times_ms) // 2]:.3f} / {times_ms[int(len(times_ms) * .95)]:.3f} / {times_ms[-1]:.3f} ms")
    print(f"exact LCS per query  {pool.scored / len(queries):.1f} texts scored of {args.pool}")
    print(f"add                  {statistics.mean(add_t) * 1e6:.1f} us per text")
    print(f"rouge_score brute    {brute_per_query * 1000:.0f} ms per query (extrapolated from {len(sample)} texts)")


if __name__ == "__main__":
    main()
