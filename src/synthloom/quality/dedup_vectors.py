"""The vectors of a semantic dedup index in fixed memory: the newest in one block, the rest on disk.

A run of a million records with a 384-dimension embedder would hold 1.5 GB of vectors. Here the newest
`block_bytes` of them sit in memory; a full block is appended to a private temporary file (deleted on
close), and a search reads the file back one block at a time into one reused buffer, so memory is two
blocks (16 MiB) at any size. The search is the same brute-force cosine scan as one matrix product over
every vector: the best match, the first of equals, against the same threshold. Its cost per search grows
with the number of vectors either way; past the first block it also reads the file (from the OS page
cache while the file fits there). Measured at 200,000 vectors of 384 dimensions (2 loaded cores): peak
RSS 537 -> 145 MiB, a search 52-58 -> 63-67 ms (docs/benchmarks_scale.md).
"""
from __future__ import annotations

import tempfile

import numpy as np


class VectorStore:
    block_bytes = 8 << 20

    def __init__(self) -> None:
        self.rows = 0  # vectors per block, set by the first vector's dimension
        self.hot: np.ndarray | None = None
        self.n_hot = 0
        self.n_file = 0
        self.file = None
        self.buf: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n_file + self.n_hot

    def add(self, vec: np.ndarray) -> None:
        vec = np.asarray(vec, np.float32).reshape(-1)
        if self.hot is None:
            self.rows = max(1, self.block_bytes // (4 * vec.shape[0]))
            self.hot = np.empty((self.rows, vec.shape[0]), np.float32)
        if self.n_hot == self.rows:
            if self.file is None:
                self.file = tempfile.TemporaryFile(prefix="synthloom-vectors-", buffering=0)
            self.file.seek(self.n_file * self.hot.nbytes // self.rows)
            self.file.write(memoryview(self.hot).cast("B"))
            self.n_file += self.rows
            self.n_hot = 0
        self.hot[self.n_hot] = vec
        self.n_hot += 1

    def blocks(self):
        """(position of the first vector, the block's vectors) in order: the file's blocks, then memory's."""
        if self.n_file:
            if self.buf is None:
                self.buf = np.empty_like(self.hot)
            row_bytes = self.hot.nbytes // self.rows
            for start in range(0, self.n_file, self.rows):
                k = min(self.rows, self.n_file - start)
                view = memoryview(self.buf[:k]).cast("B")
                self.file.seek(start * row_bytes)
                got = 0
                while got < len(view):
                    n = self.file.readinto(view[got:])
                    if not n:
                        raise OSError("semantic dedup: the vector file ended early")
                    got += n
                yield start, self.buf[:k]
        if self.n_hot:
            yield self.n_file, self.hot[: self.n_hot]

    def best(self, vec: np.ndarray) -> tuple[int, float]:
        """(position, cosine) of the vector most like `vec` (the first of equals); (-1, -inf) when empty."""
        best_j, best_s = -1, -np.inf
        for start, block in self.blocks():
            # einsum, not BLAS: one thread per call, where a threaded gemv per block spent ~10 ms a call
            # waiting for its threads on this loaded 2-core machine (0.3 ms single-threaded)
            sims = np.einsum("ij,j->i", block, vec)
            j = int(np.argmax(sims))
            if sims[j] > best_s:
                best_j, best_s = start + j, sims[j]
        return best_j, best_s

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
