"""Loading the bundled GGUF the way the backend does must decode, on every CPU (issue: AMX segfault).

A native llama-cpp-python build on an Intel CPU with AMX repacks the weights into an AMX buffer and
segfaults on the first decode unless the model is loaded with ``use_extra_bufts = False``. These tests
run the load in a subprocess, so a segfault fails the test instead of killing the test run.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {w for line in text.splitlines() if line.startswith("flags") for w in line.split()}


def _run(code: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_loading_turns_off_weight_repacking_and_restores_the_default():
    proc = _run("""
        import llama_cpp
        from synthloom.llm.llamacpp import plain_cpu_weights
        before = llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts
        with plain_cpu_weights(llama_cpp):
            inside = llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts
        after = llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts
        print(before, inside, after)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False", "True"]


@pytest.mark.model
@pytest.mark.smoke
def test_bundled_model_loads_and_decodes_in_a_fresh_process():
    """Exit code 0 and real text, whatever this CPU is (the failure message names its AMX flags)."""
    proc = _run("""
        from synthloom.llm.llamacpp import open_llama
        from synthloom.llm.model_files import bundled_model
        llm = open_llama(bundled_model()[0], n_ctx=256, n_threads=1, verbose=False, seed=0)
        out = llm("The capital of France is", max_tokens=8, temperature=0.0)
        print("TEXT:", out["choices"][0]["text"])
    """)
    amx = sorted(f for f in _cpu_flags() if f.startswith("amx"))
    assert proc.returncode == 0, f"exit {proc.returncode} on a CPU with {amx or 'no AMX'}:\n{proc.stderr[-2000:]}"
    text = proc.stdout.split("TEXT:", 1)[1].strip()
    assert len(text) >= 3, proc.stdout


@pytest.mark.model
def test_the_backend_generates_in_a_fresh_process():
    proc = _run("""
        from synthloom.llm.llamacpp import LlamaCppLLM
        from synthloom.llm.types import GenerationRequest
        llm = LlamaCppLLM()
        [res] = llm.generate_sync([GenerationRequest(prompt="Q: What colour is the sky?\\nA:", max_tokens=8, seed=1)])
        print("TEXT:", res.text)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("TEXT:", 1)[1].strip()
