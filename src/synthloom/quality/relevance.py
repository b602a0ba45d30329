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
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputFileError
from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .embeddings import make_embedder
from .pairs import PairFields


def relevance_scores(instructions: Sequence[str], responses: Sequence[str], embedder: Any = None,
                     max_pool: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated score, raw cosine) per pair; the pool of other instructions is the file's own."""
    n = len(instructions)
    if n != len(responses):
        raise ValueError("instructions and responses differ in length")
    if n == 0:
        return np.zeros(0), np.zeros(0)
    emb = embedder or make_embedder()
    uniq = list(dict.fromkeys(instructions))
    inst_vecs = emb.embed(uniq)
    index = {t: i for i, t in enumerate(uniq)}
    own_idx = np.array([index[t] for t in instructions])
    resp = emb.embed(list(responses))
    own = np.einsum("ij,ij->i", resp, inst_vecs[own_idx])
    pool = np.arange(len(uniq))
    if len(pool) > max_pool:
        pool = np.sort(np.random.default_rng(seed).choice(pool, max_pool, replace=False))
    scores = np.full(n, np.nan)
    for s in range(0, n, 512):
        sims = resp[s : s + 512] @ inst_vecs[pool].T  # (rows, pool)
        mine = own_idx[s : s + 512]
        others = pool[None, :] != mine[:, None]
        beaten = ((sims < own[s : s + 512, None]) & others).sum(1)
        count = others.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scores[s : s + 512] = np.where(count > 0, beaten / np.maximum(count, 1), np.nan)
    return scores, own


def load_reference_instructions(paths: Sequence[str], base_dir: Path, pair: PairFields) -> list[str]:
    out: list[str] = []
    for p in paths:
        path = Path(p) if Path(p).is_absolute() else base_dir / p
        if not path.is_file():
            raise InputFileError(f"relevance.reference: {path}: no such file; give JSONL files of instructions")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputFileError(f"{path}:{n}: not valid JSON ({exc})") from None
            text = pair.instruction_text(row, required=False) if isinstance(row, dict) else None
            if text:
                out.append(text)
    return out


class RelevanceGate(StatelessGate):
    """`gate: relevance`: reject responses no closer to their own instruction than to most others of the run."""

    name = "relevance"
    stage = "filter"

    def __init__(self, threshold: float = 0.5, pair: PairFields | None = None, embedder: Any = None,
                 reference: Sequence[str] = (), min_pool: int = 8, max_pool: int = 2000) -> None:
        self.threshold = threshold
        self.pair = pair or PairFields()
        self._embedder = embedder
        self.min_pool, self.max_pool = min_pool, max_pool
        self._pool: dict[str, np.ndarray | None] = {t: None for t in reference if t.strip()}
        self._lock = asyncio.Lock()

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            self._embedder = make_embedder()
        return self._embedder

    def add_reference(self, instructions: Sequence[str]) -> None:
        for t in instructions:
            if t.strip():
                self._pool.setdefault(t, None)

    def _score(self, instruction: str, response: str) -> tuple[float | None, float]:
        self._pool.setdefault(instruction, None)
        if len(self._pool) > self.max_pool:  # forget the oldest candidates, keep the pool's size bounded
            for key in list(self._pool)[: len(self._pool) - self.max_pool]:
                if key != instruction:
                    del self._pool[key]
        missing = [t for t, v in self._pool.items() if v is None]
        vecs = self.embedder.embed(missing + [response])
        for t, v in zip(missing, vecs[:-1]):
            self._pool[t] = v
        resp = vecs[-1]
        texts = list(self._pool)
        sims = np.stack([self._pool[t] for t in texts]) @ resp
        own_i = texts.index(instruction)
        own = float(sims[own_i])
        others = np.delete(sims, own_i)
        if len(others) < self.min_pool:
            return None, own
        return float((others < own).mean()), own

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
                                f"the response is closer to {1 - score:.0%} of the run's other instructions than to "
                                f"its own (relevance {score:.2f} < {self.threshold:g}; cosine {cos:.2f})")
        return rec


def build(config: Any, base_dir: Path) -> RelevanceGate:
    pair = PairFields(instruction=config.instruction_field, response=config.response_field)
    refs = load_reference_instructions(config.reference, base_dir, pair)
    emb = make_embedder(config.embedding)
    return RelevanceGate(config.threshold, pair, emb, refs, config.min_pool)
