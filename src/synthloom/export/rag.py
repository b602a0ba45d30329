"""RAG evaluation rows from a `qa` run: the form ragas, DeepEval and TruLens read.

One row per accepted question: `question`, the reference answer as both `ground_truth`
and `reference` (evaluators disagree on the name), `contexts` (the cited chunks' texts,
kept in lineage as `meta.contexts`), `evidence`, `source_ids` and `kind`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..records import Record

if TYPE_CHECKING:
    from ..sources import Corpus


def rag_eval_row(record: Record | Mapping[str, Any], contexts: Sequence[str] | None = None) -> dict[str, Any]:
    """One row as RAG evaluators (ragas, DeepEval, TruLens) read it.

    `ground_truth` and `reference` both hold the reference answer; `contexts` are the cited
    chunks' texts (from lineage, or given).
    """
    data = record.data if isinstance(record, Record) else dict(record.get("data", record))
    meta = record.meta if isinstance(record, Record) else dict(record.get("meta") or record.get("_meta") or {})
    ctx = list(contexts) if contexts is not None else list(meta.get("contexts") or [])
    return {
        "question": data["question"],
        "ground_truth": data["answer"],
        "reference": data["answer"],
        "contexts": ctx,
        "evidence": list(data.get("evidence") or []),
        "source_ids": list(data.get("source_ids") or []),
        "kind": data.get("kind"),
    }


def write_rag_eval(records: Iterable[Record], path: str | Path, corpus: "Corpus | None" = None) -> int:
    """Write `rag_eval_row` of each record as JSONL; returns the number of rows."""
    from ..userfiles import atomic_path

    n = 0
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for rec in records:
            contexts = None
            if corpus is not None and not rec.meta.get("contexts"):
                contexts = [corpus.chunk(i).text for i in rec.data.get("source_ids", []) if corpus.get(i)]
            fh.write(json.dumps(rag_eval_row(rec, contexts), ensure_ascii=False) + "\n")
            n += 1
    return n


def export_rag(run_dir: str | Path, target: str | Path) -> int:
    """Write a qa run's accepted question/answer records to `target` as RAG evaluation rows; returns how many."""
    from ..runs import open_store

    with open_store(run_dir, "the run folder of a qa run") as store:
        records = (r for r in store.iter_accepted() if isinstance(r.data, dict) and "question" in r.data
                   and "answer" in r.data)  # streamed: a run of any size
        return write_rag_eval(records, target)
