"""Fluency: the per-token perplexity of a text under a language model (the bundled GGUF by default).

The text is evaluated, not sampled: llama.cpp computes the logits at every
position in batches, and the log-probability of each actual next token is read
from them (log-softmax over the vocabulary). The mean negative log-likelihood
per token, exp'ed, is the perplexity: normalised by length, so a long answer
and a short one compare (texts under four words are not scored: without their
question, the perplexity of "Au." or "Eight." says nothing). Word salad scores
high; fluent prose scores low; a
repetition loop scores very low (the model predicts its own loop), so the gate
has a floor as well as a ceiling.

The model loads once per process (through `synthloom.llm.llamacpp.open_llama`,
which loads every GGUF the way this CPU needs), and the KV cache keeps the
tokens shared with the previous text: scoring several texts that open alike
evaluates only their new tails.
"""
from __future__ import annotations

import asyncio
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputFileError
from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .pairs import PairFields
from .text import words

MIN_WORDS = 4  # shorter texts are not scored: out of context, "Au." has a perplexity of 75,855


@dataclass(frozen=True, slots=True)
class Perplexity:
    perplexity: float
    mean_nll: float
    tokens: int  # tokens scored (the first token of the text is predicted from BOS alone)


class FluencyScorer:
    """Scores texts with one llama.cpp context; thread-safe (one text at a time)."""

    def __init__(self, path: str | None = None, n_ctx: int = 1024, n_batch: int = 64, n_threads: int | None = None) -> None:
        from ..llm.llama_model import open_llama, quiet_llama_logs
        from ..llm.model_files import resolve_model

        import llama_cpp

        model_path, sha = resolve_model(path)
        quiet_llama_logs(llama_cpp)
        threads = n_threads or max(1, min(8, (os.cpu_count() or 2) // 2))
        try:
            self.llm = open_llama(model_path, n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_batch, n_threads=threads,
                                  n_threads_batch=threads, logits_all=False, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise InputFileError(f"fluency.model_path: llama.cpp could not load {str(model_path)!r} ({exc}); "
                                 "give a complete GGUF file") from exc
        self.lib = llama_cpp
        self.identity = f"{Path(model_path).name}@{sha[:16]}"
        self.n_ctx, self.n_batch = n_ctx, n_batch
        self.n_vocab = int(self.llm.n_vocab())
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._lock = threading.Lock()
        self._tokens: list[int] = []  # what the KV cache holds
        self._nll: list[float] = []  # nll of self._tokens[i + 1] given self._tokens[: i + 1]

    def tokenize(self, text: str) -> list[int]:
        toks = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        return toks[: self.n_ctx]

    def _eval(self, tokens: list[int], start: int) -> list[float]:
        """Evaluate tokens[start:] (the cache holds tokens[:start]); nll of tokens[start + 1:] ... in order."""
        lib, ctx, b = self.lib, self.llm._ctx.ctx, self._batch
        out: list[float] = []
        pos = start
        while pos < len(tokens):
            chunk = tokens[pos : pos + self.n_batch]
            b.n_tokens = len(chunk)
            for i, t in enumerate(chunk):
                b.token[i] = t
                b.pos[i] = pos + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = True
            rc = lib.llama_decode(ctx, b)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            logits = np.ctypeslib.as_array(lib.llama_get_logits(ctx), shape=(len(chunk), self.n_vocab))
            nxt = tokens[pos + 1 : pos + 1 + len(chunk)]
            rows = logits[: len(nxt)].astype(np.float64)
            if len(nxt):
                mx = rows.max(1)
                lse = mx + np.log(np.exp(rows - mx[:, None]).sum(1))
                out.extend((lse - rows[np.arange(len(nxt)), nxt]).tolist())
            pos += len(chunk)
        return out

    def token_nlls(self, text: str) -> tuple[list[int], list[float]]:
        """The text's tokens (BOS first) and the nll of each token after the first, under the model."""
        tokens = self.tokenize(text)
        with self._lock:
            keep = 0
            limit = min(len(self._tokens), len(tokens)) - 1
            while keep < limit and self._tokens[keep] == tokens[keep]:
                keep += 1
            # re-evaluate from the last shared token: its logits predict the first new one
            start = max(0, keep - 1) if keep > 0 else 0
            mem = self.lib.llama_get_memory(self.llm._ctx.ctx) if hasattr(self.lib, "llama_get_memory") else None
            if start > 0 and mem is not None and self.lib.llama_memory_seq_rm(mem, -1, start, -1):
                head = self._nll[: start]
            else:
                if mem is not None:
                    self.lib.llama_memory_clear(mem, True)
                else:
                    self.llm._ctx.kv_cache_clear()
                start, head = 0, []
            tail = self._eval(tokens, start)
            nll = head + tail
            self._tokens, self._nll = tokens, nll
        return tokens, nll

    def score(self, text: str) -> Perplexity:
        _, nll = self.token_nlls(text)
        if not nll:
            return Perplexity(float("nan"), float("nan"), 0)
        mean = float(sum(nll) / len(nll))
        return Perplexity(math.exp(mean), mean, len(nll))

    def score_many(self, texts: Sequence[str]) -> list[Perplexity]:
        return [self.score(t) for t in texts]

    def close(self) -> None:
        if self._batch is not None:
            self.lib.llama_batch_free(self._batch)
            self._batch = None
        self.llm.close()


_SCORERS: dict[str | None, FluencyScorer] = {}
_SCORERS_LOCK = threading.Lock()


def close_scorers() -> None:
    """Free the models (at exit: llama.cpp's own finalizers fail once the interpreter tears its modules down)."""
    with _SCORERS_LOCK:
        while _SCORERS:
            _SCORERS.popitem()[1].close()


def fluency_scorer(path: str | None = None) -> FluencyScorer:
    """One scorer per model file per process."""
    with _SCORERS_LOCK:
        if path not in _SCORERS:
            if not _SCORERS:
                import atexit

                atexit.register(close_scorers)
            _SCORERS[path] = FluencyScorer(path)
        return _SCORERS[path]


class FluencyGate(StatelessGate):
    """`gate: fluency`: reject word salad (perplexity above `max_perplexity`) and loops (below `min_perplexity`)."""

    name = "fluency"
    stage = "filter"

    def __init__(self, max_perplexity: float | None = 200.0, min_perplexity: float | None = 1.8,
                 fields: list[str] | None = None, pair: PairFields | None = None, model_path: str | None = None,
                 min_words: int = MIN_WORDS) -> None:
        self.max_ppl, self.min_ppl = max_perplexity, min_perplexity
        self.fields = fields
        self.pair = pair or PairFields()
        self.model_path = model_path
        self.min_words = min_words

    def text_of(self, data: dict[str, Any]) -> str:
        return self.pair.response_or_all(data, self.fields)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        text = self.text_of(rec.data)
        if len(words(text)) < self.min_words:  # "Canberra.": a perplexity of a word or two, out of context, means nothing
            return rec.with_scores(perplexity=None)
        scorer = await asyncio.to_thread(fluency_scorer, self.model_path)
        p = await asyncio.to_thread(scorer.score, text)
        rec = rec.with_scores(perplexity=None if p.tokens == 0 else round(p.perplexity, 3))
        if p.tokens == 0:
            return rec
        if self.max_ppl is not None and p.perplexity > self.max_ppl:
            return Rejection.of(rec, "filter", "disfluent",
                                f"perplexity {p.perplexity:.1f} over {p.tokens} tokens > max_perplexity {self.max_ppl:g}")
        if self.min_ppl is not None and p.perplexity < self.min_ppl:
            return Rejection.of(rec, "filter", "degenerate",
                                f"perplexity {p.perplexity:.2f} over {p.tokens} tokens < min_perplexity {self.min_ppl:g} "
                                "(a loop or a copy the model predicts)")
        return rec


def build(config: Any, base_dir: Path) -> FluencyGate:
    path = config.model_path
    if path and not Path(path).is_absolute():
        path = str(base_dir / path)
    return FluencyGate(config.max_perplexity, config.min_perplexity, config.fields,
                       PairFields(response=config.response_field), path, config.min_words)
