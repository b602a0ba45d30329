"""Fluency: the per-token perplexity of a text under a language model (the bundled GGUF by default).

The text is evaluated, not sampled: llama.cpp computes the logits at every
position, and the log-probability of each actual next token is read from them
(log-softmax over the vocabulary). The mean negative log-likelihood per token,
exp'ed, is the perplexity: normalised by length, so a long answer and a short
one compare (texts under four words are not scored: without their question,
the perplexity of "Au." or "Eight." says nothing). Word salad scores high;
fluent prose scores low; a repetition loop scores very low (the model predicts
its own loop), so the gate has a floor as well as a ceiling.

Many texts are scored together: each text is one sequence of a llama.cpp
context that holds up to `MAX_SEQS` of them, and one ``llama_decode`` call
evaluates up to `N_BATCH` tokens from as many texts as fit (a text longer than
what is left of a batch goes on in the next one). The weights are read once per
call instead of once per text, and the context runs on the cores idle when the
model loads (`llm.llama_model.default_threads`, the backend's own rule). A text
is scored on its first `MAX_TOKENS` tokens: the cost of a row is bounded, and
the mean over 256 tokens already tells salad from prose.

The model loads once per process (through `synthloom.llm.llama_model.open_llama`,
which loads every GGUF the way this CPU needs). The gate collects the texts of
the candidates checked at the same time into one batch.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputFileError
from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .batching import LoopBatcher
from .pairs import PairFields
from .text import words

MIN_WORDS = 4  # shorter texts are not scored: out of context, "Au." has a perplexity of 75,855
MAX_TOKENS = 256  # a text is scored on its first 256 tokens (after BOS)
N_BATCH = 256  # tokens per llama_decode call (each with its 262k-way logits: 256 MiB of output buffer)
MAX_SEQS = 64  # texts in one llama_decode call at most
_ROWS = 4  # logit rows turned into log-probs at a time (4 MiB: they stay in cache; 32 rows ran 1.4x slower)


@dataclass(frozen=True, slots=True)
class Perplexity:
    perplexity: float
    mean_nll: float
    tokens: int  # tokens scored (the first token of the text is predicted from BOS alone)


@dataclass(slots=True)
class _Text:
    index: int
    tokens: list[int]
    seq: int = -1
    pos: int = 0  # tokens evaluated so far
    nll: list[float] = field(default_factory=list)
    first: int = 1  # the first token whose nll is scored (the ones before it are context)


class FluencyScorer:
    """Scores texts in batches on one llama.cpp context of its own; thread-safe (one batch at a time)."""

    def __init__(self, path: str | None = None, max_tokens: int | None = None, n_batch: int | None = None,
                 max_seqs: int | None = None, n_threads: int | None = None) -> None:
        from ..llm.llama_model import default_threads, open_llama, quiet_llama_logs
        from ..llm.model_files import resolve_model

        import llama_cpp

        max_tokens, n_batch, max_seqs = max_tokens or MAX_TOKENS, n_batch or N_BATCH, max_seqs or MAX_SEQS
        if max_tokens < 1 or n_batch < 2 or max_seqs < 1:
            raise ValueError("max_tokens, n_batch and max_seqs must be positive (n_batch at least 2)")
        model_path, sha = resolve_model(path)
        quiet_llama_logs(llama_cpp)
        self.lib = llama_cpp
        self.threads = n_threads or default_threads()
        self._claimed = 0 if n_threads else self.threads
        try:
            # the Llama object holds the weights and the tokenizer; its own context stays small and unused
            self.llm = open_llama(model_path, n_ctx=64, n_batch=64, n_threads=1, logits_all=False, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            self._release_threads()
            raise InputFileError(f"fluency.model_path: llama.cpp could not load {str(model_path)!r} ({exc}); "
                                 "give a complete GGUF file") from exc
        self.identity = f"{Path(model_path).name}@{sha[:16]}"
        self.max_tokens, self.n_batch, self.max_seqs = max_tokens, n_batch, max_seqs
        self.n_vocab = int(self.llm.n_vocab())
        lib = llama_cpp
        params = lib.llama_context_default_params()
        # the cache holds at most one text carried over from the last call plus one call's tokens; a text with a
        # context (`conditional_nlls`) is at most twice `max_tokens` long
        params.n_ctx = -(-(2 * max_tokens + 1 + 2 * n_batch) // 256) * 256
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = max_seqs
        params.kv_unified = True  # one buffer for every sequence: any text may take any free cells
        params.swa_full = True
        params.n_threads = params.n_threads_batch = self.threads
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        self.ctx = lib.llama_init_from_model(self.llm._model.model, params)
        if not self.ctx:
            self.llm.close()
            self._release_threads()
            raise RuntimeError(f"llama.cpp could not create a scoring context of {params.n_ctx} cells")
        self.mem = lib.llama_get_memory(self.ctx)
        self._batch = lib.llama_batch_init(n_batch, 0, 1)
        self._lock = threading.Lock()
        self._exp: np.ndarray | None = None  # _nll_rows' buffer

    def _release_threads(self) -> None:
        from ..llm.llama_model import release_threads

        release_threads(self._claimed)
        self._claimed = 0

    def tokenize(self, text: str) -> list[int]:
        """BOS and the text's first `max_tokens` tokens."""
        toks = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        return toks[: self.max_tokens + 1]

    def nlls_many(self, token_lists: Sequence[list[int]], firsts: Sequence[int] | None = None,
                  every: int = 1) -> list[list[float]]:
        """For each token list (BOS first), the nll of each token from `firsts[i]` on (default: every token after
        the first); many lists per llama_decode. Only the positions that predict a scored token get logits.

        `every=k` scores only every k-th of those tokens (the first, the k+1-th, ...): the 262k-way output layer
        runs on k times fewer positions, the rest of the model on all of them (they are the context)."""
        if every < 1:
            raise ValueError(f"every must be at least 1 (got {every})")
        out: list[list[float]] = [[] for _ in token_lists]
        firsts = firsts or [1] * len(token_lists)
        queue = [_Text(i, t, first=max(1, f)) for i, (t, f) in enumerate(zip(token_lists, firsts)) if len(t) > max(1, f)]
        queue.reverse()
        with self._lock:
            lib, b = self.lib, self._batch
            free = list(range(self.max_seqs - 1, -1, -1))
            carried: _Text | None = None
            while queue or carried is not None:
                b.n_tokens = 0
                room = self.n_batch
                texts: list[_Text] = []
                targets: list[int] = []
                owners: list[_Text] = []
                while room > 0:
                    if carried is not None:
                        cur, carried = carried, None
                    elif queue and free:
                        cur = queue.pop()
                        cur.seq = free.pop()
                    else:
                        break
                    end = min(len(cur.tokens), cur.pos + room)
                    for p in range(cur.pos, end):
                        j = b.n_tokens
                        b.token[j] = cur.tokens[p]
                        b.pos[j] = p
                        b.n_seq_id[j] = 1
                        b.seq_id[j][0] = cur.seq
                        # the last token predicts nothing; a context token before the scored part, nothing scored
                        has_next = cur.first <= p + 1 < len(cur.tokens) and (p + 1 - cur.first) % every == 0
                        b.logits[j] = has_next
                        if has_next:
                            targets.append(cur.tokens[p + 1])
                            owners.append(cur)
                        b.n_tokens = j + 1
                    room -= end - cur.pos
                    cur.pos = end
                    texts.append(cur)
                    if cur.pos < len(cur.tokens):
                        carried = cur  # the batch is full: the rest of this text opens the next one
                rc = lib.llama_decode(self.ctx, b)
                if rc != 0:
                    lib.llama_memory_clear(self.mem, True)
                    raise RuntimeError(f"llama_decode returned {rc} for {len(texts)} texts")
                if targets:
                    nll = self._nll_rows(len(targets), np.asarray(targets))
                    for owner, v in zip(owners, nll.tolist()):
                        owner.nll.append(v)
                for t in texts:
                    if t is not carried:
                        out[t.index] = t.nll
                        lib.llama_memory_seq_rm(self.mem, t.seq, -1, -1)
                        free.append(t.seq)
        return out

    def _nll_rows(self, n: int, targets: np.ndarray) -> np.ndarray:
        """-log softmax(logits)[target] for the last call's n output rows (float32 logits, float64 sums).

        A few rows at a time through one buffer of this scorer's, in place: the rows stay in the CPU's cache and
        no 262k-wide temporaries are allocated (fresh ones cost a page fault per 4 KiB): 0.3 instead of 0.9 ms a
        row, the same values to the bit."""
        logits = np.ctypeslib.as_array(self.lib.llama_get_logits(self.ctx), shape=(n, self.n_vocab))
        if self._exp is None:
            self._exp = np.empty((_ROWS, self.n_vocab), np.float32)
        nll = np.empty(n)
        for s in range(0, n, _ROWS):
            x = logits[s : s + _ROWS]
            k = len(x)
            mx = x.max(1)
            e = self._exp[:k]
            np.subtract(x, mx[:, None], out=e)
            np.exp(e, out=e)
            lse = mx.astype(np.float64) + np.log(e.sum(1, dtype=np.float64))
            nll[s : s + k] = lse - x[np.arange(k), targets[s : s + k]]
        return nll

    def token_nlls(self, text: str) -> tuple[list[int], list[float]]:
        """The text's tokens (BOS first, at most `max_tokens` after it) and the nll of each token after the first."""
        tokens = self.tokenize(text)
        return tokens, self.nlls_many([tokens])[0]

    def conditional_nlls(self, pairs: Sequence[tuple[str, str]]) -> list[list[float]]:
        """For each (context, text): the nll of each of the text's tokens after the context (the context is
        evaluated, not scored; the text's tokens are capped at `max_tokens`, the context keeps BOS and its last
        `max_tokens` tokens). Pairs are evaluated together."""
        lists, firsts = [], []
        for context, text in pairs:
            ctx = self.llm.tokenize(context.encode("utf-8"), add_bos=True, special=False)
            ctx = ctx[:1] + ctx[1:][-self.max_tokens:]
            txt = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[: self.max_tokens]
            lists.append(ctx + txt)
            firsts.append(len(ctx))
        return self.nlls_many(lists, firsts)

    def score(self, text: str) -> Perplexity:
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str], every: int = 1) -> list[Perplexity]:
        """The perplexity of each text, evaluated together (results in the order of `texts`); `every=k`: estimated
        from every k-th token's nll (`nlls_many`), faster, not the same number."""
        return [_perplexity(nll) for nll in self.nlls_many([self.tokenize(t) for t in texts], every=every)]

    def close(self) -> None:
        if self._batch is not None:
            self.lib.llama_batch_free(self._batch)
            self._batch = None
        if self.ctx:
            self.lib.llama_free(self.ctx)
            self.ctx = None
        self.llm.close()
        self._release_threads()


def _perplexity(nll: Sequence[float]) -> Perplexity:
    if not nll:
        return Perplexity(float("nan"), float("nan"), 0)
    mean = float(sum(nll) / len(nll))
    return Perplexity(math.exp(mean), mean, len(nll))


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
        self._batcher: LoopBatcher[str, Perplexity] = LoopBatcher()

    def text_of(self, data: dict[str, Any]) -> str:
        return self.pair.response_or_all(data, self.fields)

    async def _perplexity(self, text: str) -> Perplexity:
        """The text's perplexity, scored in one batch with the texts of the checks waiting beside it."""
        return await self._batcher.run(text, self._score_many)

    def _score_many(self, texts: list[str]) -> list[Perplexity]:
        return fluency_scorer(self.model_path).score_many(texts)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        text = self.text_of(rec.data)
        if len(words(text)) < self.min_words:  # "Canberra.": a perplexity of a word or two, out of context, means nothing
            return rec.with_scores(perplexity=None)
        p = await self._perplexity(text)
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
