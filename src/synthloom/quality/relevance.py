"""Relevance: does the response address its own instruction, more than the other instructions of the run?

A raw cosine between two embeddings means little on its own (its scale depends
on the model and the domain), so it is calibrated against shuffled pairs from
the same data: the score of a pair is the share of the *other* instructions of
the run (or file) that the response is less similar to than to its own. A
response that answers its instruction scores near 1; one that would fit any
instruction as well (or a different one better) scores near 0.5 or below.

- `relevance_scores(instructions, responses)`: a whole file at once (batched
  embeddings; each response against every other instruction of the file, or a
  sample of `max_pool` of them).
- `RelevanceGate`: one candidate at a time during a run, against a pool of the
  run's instructions: the seeds (or `reference` files) and every candidate
  instruction seen so far. Below `min_pool` other instructions a score is not
  yet meaningful: the record passes with `relevance: null` in its scores.

The score is the lower of two calibrations: the share of the other
instructions the response is less similar to than to its own (its row), and
the share of shuffled pairs (other responses with other instructions) whose
cosine is below this pair's. Instructions nearly identical to a pair's own
(cosine >= 0.8: an evolution's parent) are the same task, not "others".
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputFileError
from ..records import Record, Rejection
from ..userfiles import jsonl_values
from .base import GateContext, StatelessGate
from .embeddings import make_embedder
from .pairs import PairFields


SAME_TASK = 0.8  # instructions this similar to a pair's own are the same task (an evolution's parent), not "others"


def calibrate(own: np.ndarray, row_sims: np.ndarray, row_mask: np.ndarray, null: np.ndarray) -> np.ndarray:
    """The score of each pair: min(share of its row's other instructions it beats, share of shuffled pairs it beats).

    own: (n,) cosine of each response with its own instruction; row_sims: (n, p) cosine of each response with
    the pool's instructions, row_mask: which of them count as others; null: cosines of shuffled pairs.
    """
    count = row_mask.sum(1)
    beaten = ((row_sims < own[:, None]) & row_mask).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rank = np.where(count > 0, beaten / np.maximum(count, 1), np.nan)
    if null.size == 0:
        return rank
    glob = np.searchsorted(np.sort(null), own, side="left") / null.size
    return np.fmin(rank, glob) if np.isfinite(rank).any() else glob


def relevance_scores(instructions: Sequence[str], responses: Sequence[str], embedder: Any = None,
                     max_pool: int = 2000, seed: int = 0,
                     reference: Sequence[str | tuple[str, str]] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated score, raw cosine) per pair.

    The pool of other instructions is the file's own plus `reference` (instructions, or (instruction,
    response) pairs, which also join the shuffled-pair null): a small file calibrates better with one.
    """
    n = len(instructions)
    if n != len(responses):
        raise ValueError("instructions and responses differ in length")
    if n == 0:
        return np.zeros(0), np.zeros(0)
    emb = embedder or make_embedder()
    ref_pairs = [r for r in reference if not isinstance(r, str)]
    all_inst = list(instructions) + [i for i, _r in ref_pairs]
    all_resp = list(responses) + [r for _i, r in ref_pairs]
    uniq = list(dict.fromkeys(all_inst + [r for r in reference if isinstance(r, str)]))
    inst_vecs = emb.embed(uniq)
    index = {t: i for i, t in enumerate(uniq)}
    own_idx = np.array([index[t] for t in all_inst])
    resp = emb.embed(all_resp)
    own = np.einsum("ij,ij->i", resp, inst_vecs[own_idx])
    rng = np.random.default_rng(seed)
    pool = np.arange(len(uniq))
    if len(pool) > max_pool:
        pool = np.sort(rng.choice(pool, max_pool, replace=False))
    pool_vecs = inst_vecs[pool]
    m = len(all_inst)
    null_rows = np.arange(m) if m <= max_pool else np.sort(rng.choice(m, max_pool, replace=False))

    def others(rows: np.ndarray) -> np.ndarray:  # which pool instructions are another task for these rows
        return (inst_vecs[own_idx[rows]] @ pool_vecs.T) < SAME_TASK

    null_parts = []
    for s in range(0, len(null_rows), 256):
        rows = null_rows[s : s + 256]
        null_parts.append((resp[rows] @ pool_vecs.T)[others(rows)])
    null = np.concatenate(null_parts) if null_parts else np.zeros(0)
    scores = np.full(n, np.nan)
    for s in range(0, n, 512):
        rows = np.arange(s, min(n, s + 512))
        scores[rows] = calibrate(own[rows], resp[rows] @ pool_vecs.T, others(rows), null)
    return scores, own[:n]


def load_reference_instructions(paths: Sequence[str], base_dir: Path, pair: PairFields) -> list[str | tuple[str, str]]:
    """Instructions of JSONL files, as (instruction, response) pairs where a row has a response."""
    out: list[str | tuple[str, str]] = []
    for p in paths:
        path = Path(p) if Path(p).is_absolute() else base_dir / p
        if not path.is_file():
            raise InputFileError(f"relevance.reference: {path}: no such file; give JSONL files of instructions")
        for _, row in jsonl_values(path, "give one JSON object per line (an instruction, and a response)"):
            text = pair.instruction_text(row, required=False) if isinstance(row, dict) else None
            resp = pair.response_text(row, required=False) if text else None
            if text:
                out.append((text, resp) if resp else text)
    return out


class RelevanceGate(StatelessGate):
    """`gate: relevance`: reject responses no closer to their own instruction than to most others of the run."""

    name = "relevance"
    stage = "filter"

    def __init__(self, threshold: float = 0.9, pair: PairFields | None = None, embedder: Any = None,
                 reference: Sequence[str | tuple[str, str]] = (), min_pool: int = 8, max_pool: int = 1000) -> None:
        self.threshold = threshold
        self.pair = pair or PairFields()
        self._embedder = embedder
        self.min_pool, self.max_pool = min_pool, max_pool
        self._inst: dict[str, np.ndarray | None] = {}  # the run's instructions (seeds first)
        self._pairs: list[tuple[str, str]] = []  # (instruction, response) pairs: the shuffled-pair null
        self._resp: dict[tuple[str, str], np.ndarray] = {}
        self.add_reference(reference)
        self._lock = asyncio.Lock()

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            self._embedder = make_embedder()
        return self._embedder

    def add_reference(self, items: Sequence[str | tuple[str, str]]) -> None:
        """Instructions, or (instruction, response) pairs (seeds with outputs), to calibrate against."""
        for item in items:
            inst, resp = (item, None) if isinstance(item, str) else item
            if inst.strip():
                self._inst.setdefault(inst, None)
                if resp and resp.strip():
                    self._pairs.append((inst, resp))

    def _score(self, instruction: str, response: str) -> tuple[float | None, float]:
        self._inst.setdefault(instruction, None)
        self._pairs.append((instruction, response))
        if len(self._pairs) > self.max_pool:  # forget the oldest pairs, keep the null's size bounded
            del self._pairs[: len(self._pairs) - self.max_pool]
        if len(self._inst) > self.max_pool:
            for key in list(self._inst)[: len(self._inst) - self.max_pool]:
                if key != instruction:
                    del self._inst[key]
        missing_i = [t for t, v in self._inst.items() if v is None]
        missing_r = [p for p in self._pairs if p not in self._resp]
        vecs = self.embedder.embed(missing_i + [r for _i, r in missing_r])
        for t, v in zip(missing_i, vecs[: len(missing_i)]):
            self._inst[t] = v
        for p, v in zip(missing_r, vecs[len(missing_i):]):
            self._resp[p] = v
        self._resp = {p: self._resp[p] for p in self._pairs}
        texts = list(self._inst)
        imat = np.stack([self._inst[t] for t in texts])
        pos = {t: i for i, t in enumerate(texts)}
        resp = self._resp[(instruction, response)]
        own_i = pos[instruction]
        own = float(resp @ imat[own_i])
        same = (imat @ imat.T) >= SAME_TASK
        mask = ~same[own_i]
        if mask.sum() < self.min_pool:
            return None, own
        others = [(pos[i], self._resp[(i, r)]) for i, r in self._pairs if (i, r) != (instruction, response) and i in pos]
        if others:
            rmat = np.stack([v for _k, v in others])
            sims = rmat @ imat.T
            null = sims[~same[[k for k, _v in others]]]
        else:
            null = np.zeros(0)
        score = calibrate(np.array([own]), (imat @ resp)[None, :], mask[None, :], null)[0]
        return float(score), own

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        if rec.meta.get("is_classification"):
            return rec  # a label ("neutral") is not meant to resemble its instruction
        inst = self.pair.instruction_text(rec.data)
        resp = self.pair.response_text(rec.data)
        async with self._lock:  # the pool is one index; embeddings run in a worker thread
            score, cos = await asyncio.to_thread(self._score, inst, resp)
        rec = rec.with_scores(relevance=None if score is None else round(score, 4), relevance_cos=round(cos, 4))
        if score is not None and score < self.threshold:
            return Rejection.of(rec, "filter", "irrelevant",
                                f"relevance {score:.2f} < {self.threshold:g}: the response's cosine with its own "
                                f"instruction ({cos:.2f}) beats only {score:.0%} of the run's other instructions "
                                "or shuffled pairs")
        return rec


def build(config: Any, base_dir: Path) -> RelevanceGate:
    pair = PairFields(instruction=config.instruction_field, response=config.response_field)
    refs = load_reference_instructions(config.reference, base_dir, pair)
    emb = make_embedder(config.embedding)
    return RelevanceGate(config.threshold, pair, emb, refs, config.min_pool)
