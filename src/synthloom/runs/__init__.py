"""The run layer: one owner of a run directory, below the engine and every reader of a run.

    rundir.py   the directory's file names; open a run's store, read and write its manifest
    store.py    RunStore: the SQLite run store (call cache, records, rejections, usage, verdicts)
    funnel.py   the one funnel table (step, rejection stage, label), read by the store and the reports
    writers.py  the files a run writes: records as JSONL / Parquet / CSV, rejections as JSONL

The engine writes a run through this layer; export, review, train and the CLI read one
through it. Nothing here imports the engine, a generator or a gate.
"""
from .funnel import FUNNEL, FUNNEL_LABELS
from .rundir import create_store, has_store, open_store, read_manifest, resolve_output, store_path, write_manifest
from .store import RunStore

__all__ = ["FUNNEL", "FUNNEL_LABELS", "RunStore", "create_store", "has_store", "open_store", "read_manifest",
           "resolve_output", "store_path", "write_manifest"]
