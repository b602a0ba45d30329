"""How many cores this process may use now: what threaded native code (llama.cpp, BLAS) is given.

Threads of llama.cpp and OpenBLAS spin at barriers, so more threads than free cores is many times
slower (llama.cpp 3-14x on 2 loaded cores; the MiniLM embedder's BLAS 3.6x), while on idle cores more
threads are faster. So they get the cores idle now, measured, not a fixed share.
"""
from __future__ import annotations

import os
import time


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 2


def idle_cores(window_s: float = 0.2) -> float:
    """Cores idle right now: /proc/stat sampled over `window_s` (Linux), else cores minus the 1-minute load average."""
    def read() -> tuple[int, int, int]:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        v = [int(x) for x in lines[0].split()[1:]]
        n = sum(1 for line in lines[1:] if line.startswith("cpu"))
        return sum(v[:8]), v[3] + (v[4] if len(v) > 4 else 0), n  # total, idle + iowait, cpus (guest time is in user)

    try:
        t0, i0, n = read()
        time.sleep(window_s)
        t1, i1, _n = read()
        return n * (i1 - i0) / (t1 - t0) if t1 > t0 else float(n)
    except (OSError, ValueError, IndexError):
        try:
            return (os.cpu_count() or 2) - os.getloadavg()[0]
        except (AttributeError, OSError):
            return (os.cpu_count() or 2) / 2


def thread_cap() -> int:
    """`OMP_NUM_THREADS` when set, else 8."""
    omp = os.environ.get("OMP_NUM_THREADS", "")
    return int(omp) if omp.isdigit() and int(omp) > 0 else 8
