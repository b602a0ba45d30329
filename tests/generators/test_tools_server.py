"""The tools technique through the openai backend against llama-cpp-python's own server on loopback (the
bundled model behind it): its schemas compile in the server's grammar converter, verified records come out,
and the server still answers afterwards. A server of its own: a crash here must not take down the session's
shared `llama_server` that other tests use."""
from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

from synthloom import RunStore, run_recipe
from synthloom.config.models import OpenAIModel
from synthloom.engine.recipe_file import load_recipe
from synthloom.generators.tools import MARKUP

pytestmark = [pytest.mark.model, pytest.mark.server, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).parents[2] / "examples"
TOOLS = {"get_weather", "convert_units", "get_order", "list_orders"}


@pytest.fixture()
def own_server():
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server]")
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from helpers.llama_server import bundled_model_path, start_llama_server, stop_llama_server

    proc, base_url, log = start_llama_server(bundled_model_path(), n_ctx=4096)
    try:
        yield proc, base_url, log
    finally:
        stop_llama_server(proc, log)


def test_tools_records_from_llama_cpp_server(own_server, tmp_path: Path) -> None:
    proc, base_url, log = own_server
    recipe = load_recipe(EXAMPLES / "tools.yaml", {"count": 1})
    recipe = recipe.model_copy(update={
        "model": OpenAIModel(backend="openai", base_url=base_url, model="gemma3-270m", api_key_env=None,
                             max_concurrency=1, timeout_s=300, max_retries=0),
        # the two kinds the bundled model serves best (one call, no call): a record within a few slots (the
        # server's default chat format for this GGUF is llama-2's `[INST]`, which the base model sometimes
        # writes on in: those records are rejected as template_markup)
        "generate": recipe.generate.model_copy(update={"scenarios": ["single", "no_tool"]}),
        "engine": recipe.engine.model_copy(update={"concurrency": 1, "max_attempts": 12})})
    summary = run_recipe(recipe, base_dir=EXAMPLES, output=tmp_path / "out")
    alive = proc.poll() is None
    assert alive, f"the server exited ({proc.returncode}):\n{Path(log).read_text()[-3000:]}"
    with urllib.request.urlopen(base_url + "/models", timeout=30) as r:
        assert r.status == 200
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), list(s.rejections())
    reasons = [r.reason for r in rejected]
    assert "backend_error" not in " ".join(reasons), reasons
    assert accepted, f"no verified record in {len(rejected)} slots: {reasons}"
    for r in accepted:
        d = r.data
        assert d["request"] and d["answer"] and {t["function"]["name"] for t in d["tools"]} == TOOLS
        for c in d["calls"]:  # every call was run and its result kept
            assert c["name"] in TOOLS and "result" in c and "error" not in c
        assert r.meta["checks"] == {"format": "pass", "execution": "pass", "semantics": "pass"}
        assert r.meta["model"].startswith("openai:"), r.meta["model"]
        assert not MARKUP.search(d["request"]) and not MARKUP.search(d["answer"]), d  # no chat-template tokens
    print(json.dumps([r.data for r in accepted], ensure_ascii=False)[:2000], reasons)
