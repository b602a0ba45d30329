"""Decontamination: no benchmark item, nor a paraphrase of one, in the synthetic set.

`gate: decontaminate` (and `synthloom decontaminate FILE --against BENCH...`, which is
`decontaminate_file`) compares every candidate with every item of the benchmark files it
names, by three measures, each with its own threshold:

- `ngram`: shared word 13-grams of the normalised texts, as a share of the shorter text's
  13-grams (GPT-3 and OLMo flag any shared 13-gram: a threshold a bit above 0 does the same
  on short texts and asks for more than one stock phrase on long ones);
- `lcs`: the longest common substring of the normalised texts, as a share of the shorter one
  (a copy with a word or a number changed every dozen words shares no 13-gram);
- `cosine`: MiniLM cosine (a reworded item shares few words).

The first measure that fires names itself, the benchmark and the item in the rejection
(`contaminated_cosine:canal-quiz`, detail `canal-quiz item cq-07: cosine 0.93 >= 0.8 ...`).
Every checked record keeps its closest item and the three numbers in `meta.decontamination`,
which is what the report's section reads (hits per benchmark, closest pairs, share checked).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .decontam_index import BenchmarkIndex, Pair, Thresholds
from .text import normalize, record_text

_MEASURE = {"ngram": "{n}-gram overlap", "lcs": "longest common substring", "cosine": "cosine"}


def _short(text: str, n: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def thresholds(config: Any) -> Thresholds:
    return Thresholds(config.ngram_threshold, config.lcs_threshold, config.lcs_min_chars, config.cosine_threshold)


def open_benchmarks(config: Any, base_dir: Path, notify: Callable[[str], None] | None = None) -> list[BenchmarkIndex]:
    """The index of each benchmark a `DecontaminateGateConfig` names (built or loaded from the cache)."""
    from ..config.decontaminate import BenchmarkFile

    out, names = [], set()
    for entry in config.benchmarks:
        spec = entry if isinstance(entry, BenchmarkFile) else BenchmarkFile(path=entry)
        path = Path(spec.path) if Path(spec.path).is_absolute() else base_dir / spec.path
        name = spec.name or (path.stem if path.is_file() else path.name)
        if name in names:
            from ..errors import RecipeError

            raise RecipeError(f"decontaminate: two benchmarks are named {name!r}; give one a `name`")
        names.add(name)
        out.append(BenchmarkIndex(name, path, fields=spec.fields, id_field=spec.id_field, split=spec.split,
                                  ngram=config.ngram, min_ngram=config.min_ngram, cache=config.cache_dir,
                                  notify=notify))
    return out


class Checker:
    """Every benchmark's index and the thresholds: `check(texts)` gives each text's closest pair."""

    def __init__(self, indexes: list[BenchmarkIndex], th: Thresholds, embedder: Any = None, ngram: int = 13) -> None:
        self.indexes, self.th, self.embedder, self.n = indexes, th, embedder, ngram
        if th.cosine is not None:
            for ix in indexes:
                if ix.vectors is None:
                    ix.embed(embedder)

    def vectors(self, texts: Sequence[str]) -> np.ndarray | None:
        return self.embedder.embed(list(texts)) if self.th.cosine is not None and texts else None

    def closest(self, texts: Sequence[str], vecs: np.ndarray | None = None) -> list[Pair | None]:
        """Each text's closest item over all benchmarks (a pair that fires beats one that does not)."""
        norms = [normalize(t) for t in texts]
        out: list[Pair | None] = [None] * len(texts)
        for ix in self.indexes:
            for start in range(0, len(texts), 64):  # 64 rows x 100k items of cosines at a time: 25 MB
                sims = ix.similarities(vecs[start : start + 64]) if vecs is not None else None
                for j, norm in enumerate(norms[start : start + 64]):
                    p = ix.closest(norm, self.th, None if sims is None else sims[j])
                    cur = out[start + j]
                    if p is not None and (cur is None or (bool(p.fired), p.strength) > (bool(cur.fired), cur.strength)):
                        out[start + j] = p
        return out

    def describe(self, p: Pair) -> str:
        """The rejection detail: benchmark, item, the measures that fired with their thresholds, the item."""
        limits = {"ngram": self.th.ngram, "lcs": self.th.lcs, "cosine": self.th.cosine}
        values = {"ngram": p.ngram, "lcs": p.lcs, "cosine": p.cosine}
        said = "; ".join(f"{_MEASURE[m].format(n=self.n)} {values[m]:.2f} >= {limits[m]}" for m in p.fired)
        return f"{p.benchmark} item {p.item}: {said}: {_short(p.item_text)!r}"


def pair_meta(p: Pair | None) -> dict[str, Any]:
    """What a checked record keeps in `meta.decontamination`."""
    if p is None:
        return {"closest": None, "fired": []}
    return {"closest": {"benchmark": p.benchmark, "item": p.item, "item_text": _short(p.item_text, 300),
                        "ngram": p.ngram, "lcs": p.lcs, "cosine": p.cosine},
            "fired": list(p.fired), "strength": round(p.strength, 4)}


class DecontaminateGate(StatelessGate):
    """Rejects a candidate that repeats, contains or paraphrases a benchmark item."""

    name = "decontaminate"
    stage = "decontaminate"

    def __init__(self, checker: Checker, fields: list[str] | None = None) -> None:
        self.checker, self.fields = checker, fields

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        text = record_text(rec.data, self.fields)
        vecs = None
        if self.checker.th.cosine is not None:
            vecs = await self.checker.embedder.aembed([text])
        (pair,) = await asyncio.to_thread(self.checker.closest, [text], vecs)
        rec = rec.with_meta(decontamination=pair_meta(pair))
        if pair is not None and pair.fired:
            return Rejection.of(rec, self.stage, f"contaminated_{pair.fired[0]}:{pair.benchmark}",
                                self.checker.describe(pair))
        return rec


def make_checker(config: Any, base_dir: Path | str, embedder: Any = None,
                 notify: Callable[[str], None] | None = None) -> Checker:
    """The checker a config describes; `notify` hears of the slow steps done once (indexing, embedding)."""
    if config.cosine_threshold is not None and embedder is None:
        from .embeddings import make_embedder

        embedder = make_embedder(config.embedding)
    return Checker(open_benchmarks(config, Path(base_dir), notify), thresholds(config), embedder, config.ngram)


def build(config: Any, base_dir: Path) -> DecontaminateGate:
    """quality.GATES entry for `gate: decontaminate`."""
    return DecontaminateGate(make_checker(config, base_dir), config.fields)


@dataclass(frozen=True)
class DecontaminatedFile:
    """What `decontaminate_file` did: lines read and kept, hits per benchmark, seconds, the output."""

    read: int
    kept: int
    hits: dict[str, int]  # benchmark -> contaminated lines
    items: dict[str, int]  # benchmark -> items indexed
    seconds: float
    output: Path
    pairs: list[tuple[int, Pair]] = field(default_factory=list)  # (line, pair) of every contaminated line

    @property
    def contaminated(self) -> int:
        return sum(self.hits.values())


def decontaminate_file(input: str | Path, output: str | Path, benchmarks: Sequence[Any], *,
                       hits: str | Path | None = None, base_dir: str | Path | None = None, embedder: Any = None,
                       origin: str = "decontaminate", notify: Callable[[str], None] | None = None,
                       **options: Any) -> DecontaminatedFile:
    """Keep the lines of the JSONL file `input` that repeat, contain or paraphrase no item of `benchmarks`
    (paths, or {path, name, fields, id_field, split}); `hits` gets one JSON line per contaminated line.
    `options` are the gate's: fields, ngram, ngram_threshold, lcs_threshold, cosine_threshold, cache_dir...
    Relative benchmark paths resolve from `base_dir` (default: the working folder)."""
    from ..userfiles import atomic_path, check_file
    from .apply import _write_jsonl, gate_configs, read_jsonl

    (config,) = gate_configs([{"gate": "decontaminate", "benchmarks": [b if isinstance(b, dict) else str(b)
                                                                       for b in benchmarks], **options}],
                             origin)
    output, hits = Path(output), Path(hits) if hits is not None else None
    for path in (output, hits):
        if path is not None:
            check_file(path, "output file")
    started = time.perf_counter()
    lines, rows = read_jsonl(input)
    checker = make_checker(config, Path(base_dir) if base_dir is not None else Path.cwd(), embedder, notify)
    texts = [record_text(r, config.fields) for r in rows]
    pairs: list[Pair | None] = []
    for start in range(0, len(texts), 4096):  # vectors of a chunk at a time: a big file is not held embedded
        chunk = texts[start : start + 4096]
        pairs += checker.closest(chunk, checker.vectors(chunk))
    with atomic_path(output) as tmp:
        tmp.write_text("".join(line + "\n" for line, p in zip(lines, pairs) if not (p and p.fired)), encoding="utf-8")
    flagged = [(n, p) for n, p in enumerate(pairs, 1) if p is not None and p.fired]
    if hits is not None:
        _write_jsonl(hits, ({"line": n, "benchmark": p.benchmark, "item": p.item, "measure": p.fired[0],
                             "fired": list(p.fired), "ngram": p.ngram, "lcs": p.lcs, "cosine": p.cosine,
                             "text": texts[n - 1], "item_text": p.item_text} for n, p in flagged))
    per = {ix.name: 0 for ix in checker.indexes}
    for _, p in flagged:
        per[p.benchmark] += 1
    return DecontaminatedFile(len(lines), len(lines) - len(flagged), per, {ix.name: len(ix) for ix in checker.indexes},
                              time.perf_counter() - started, output, flagged)

