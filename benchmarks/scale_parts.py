"""The two parts of a long run whose cost per record can grow with the run, measured alone, window by window.

    nice -n 10 .venv/bin/python benchmarks/scale_parts.py dedup -n 1000000
    nice -n 10 .venv/bin/python benchmarks/scale_parts.py store -n 300000

dedup: `DedupIndex("exact")` asked `find` then `add` for N distinct one-line texts (it moves to its SQLite
file at 20,000). store: the run store as the engine uses it for the one-field recipe of
benchmarks/scale.py: per group of 64 records, 64 call-cache lookups of missing keys (`get_calls`) and one
`commit_batch` of 64 calls (400-byte answers), 64 one-record slots and their usage. Prints CPU time of
the thread per record in each fifth of the run (store: lookup / commit). Compare two versions of the code
in one series by alternating `PYTHONPATH=<other checkout>/src` with none.
"""
from __future__ import annotations

import argparse
import hashlib
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path


def dedup(n: int) -> str:
    from synthloom.quality.dedup import DedupIndex

    idx, rnd, w = DedupIndex("exact"), random.Random(1), n // 5
    texts = [f"A sturdy product number {rnd.getrandbits(60)} with a lid and {i} handles." for i in range(n)]
    row, t = [], time.thread_time()
    for i, s in enumerate(texts, 1):
        if idx.find(s) is None:
            idx.add(s)
        if i % w == 0:
            now = time.thread_time()
            row.append(f"{(now - t) / w * 1e6:.1f}")
            t = now
    return " | ".join(row)


def store(n: int) -> str:
    from synthloom.records import Record
    from synthloom.runs.store import RunStore

    folder = Path(tempfile.mkdtemp(prefix="synthloom-parts-"))
    try:
        st = RunStore(folder / "store.sqlite")
        st.begin_run("r", "r", {}, {})
        answer, w = b'{"text":"' + b"x" * 380 + b'"}', n // 5
        get = commit = 0.0
        row: list[str] = []
        for slot in range(0, n, 64):
            keys = [hashlib.blake2b(str(slot + i).encode(), digest_size=10).hexdigest() for i in range(64)]
            t = time.thread_time()
            for k in keys:
                st.get_calls([k])
            get += time.thread_time() - t
            calls = [(k, "stub", "generate", answer, 10, 20, 0.0) for k in keys]
            slots = [(slot + i, [Record(data={"text": f"item {slot + i} " + "y" * 60}, meta={"seed": slot + i})], [])
                     for i in range(64)]
            t = time.thread_time()
            st.commit_batch("r", calls, slots, {("stub", "generate"): [64, 0, 640, 1280]})
            commit += time.thread_time() - t
            if (slot + 64) % w < 64:
                row.append(f"{get / w * 1e6:.1f} / {commit / w * 1e6:.1f}")
                get = commit = 0.0
        st.close()
        return " | ".join(row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", choices=["dedup", "store"])
    ap.add_argument("-n", type=int, default=200_000)
    a = ap.parse_args()
    import synthloom

    row = {"dedup": dedup, "store": store}[a.part](a.n)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {a.part} | {a.n:,} | {row} | {rss:.0f} | {Path(synthloom.__file__).parent.parent} |")


if __name__ == "__main__":
    main()
