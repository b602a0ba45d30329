"""Bad input ends with one clear message (file, field, fix), the right exit code, no traceback,
nothing half-written, and no API key anywhere."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HELPERS = Path(__file__).parent / "helpers"


def synthloom(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "synthloom", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=120)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


GOOD_SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def recipe_text(**over) -> str:
    base = {"name": "r", "count": 2, "generate": {"technique": "schema", "schema": GOOD_SCHEMA}}
    base.update(over)
    return json.dumps(base)  # JSON is YAML


def assert_clean(res, code, *needles):
    assert res.returncode == code, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    for n in needles:
        assert n in res.stderr, res.stderr


def test_malformed_yaml(tmp_path):
    r = write(tmp_path / "bad.yaml", "name: x\ngenerate: [unclosed\n")
    assert_clean(synthloom("run", r), 2, "bad.yaml", "not valid YAML", "line")


def test_unknown_field_is_named(tmp_path):
    r = write(tmp_path / "typo.yaml", recipe_text(engine={"concurency": 4}))
    assert_clean(synthloom("run", r), 2, "typo.yaml", "engine.concurency", "unknown field")


def test_unknown_technique(tmp_path):
    r = write(tmp_path / "t.yaml", recipe_text(generate={"technique": "magic", "schema": {}}))
    assert_clean(synthloom("run", r), 2, "t.yaml", "generate", "magic")


def test_count_zero(tmp_path):
    r = write(tmp_path / "z.yaml", recipe_text(count=0))
    assert_clean(synthloom("run", r), 2, "z.yaml", "count", "> 0")
    s = write(tmp_path / "s.json", json.dumps(GOOD_SCHEMA))
    assert_clean(synthloom("generate", "schema", "--schema", s, "-n", "0", "-o", tmp_path / "o.jsonl"), 2, "-n", "> 0")
    assert not (tmp_path / "o.jsonl").exists()


def test_invalid_schema(tmp_path):
    s = write(tmp_path / "bad.schema.json", json.dumps({"type": "object", "properties": {"a": {"type": "strng"}}}))
    res = synthloom("generate", "schema", "--schema", s, "-n", "1", "-o", tmp_path / "o.jsonl")
    assert_clean(res, 2, "bad.schema.json", "properties/a/type")
    assert not (tmp_path / "o.jsonl").exists()


def test_unsatisfiable_schema(tmp_path):
    s = write(tmp_path / "u.json", json.dumps({"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}}))
    assert_clean(synthloom("generate", "schema", "--schema", s, "-n", "1", "-o", tmp_path / "o.jsonl"), 2,
                 "u.json", "cannot be satisfied", "minimum")


def test_schema_file_missing(tmp_path):
    assert_clean(synthloom("generate", "schema", "--schema", tmp_path / "nope.json", "-o", tmp_path / "o.jsonl"), 2,
                 "nope.json", "does not exist")


def test_missing_gguf(tmp_path):
    s = write(tmp_path / "s.json", json.dumps(GOOD_SCHEMA))
    res = synthloom("generate", "schema", "--schema", s, "-n", "1", "-o", tmp_path / "o.jsonl", "--gguf", tmp_path / "missing.gguf")
    assert res.returncode in (1, 2) and "Traceback" not in res.stderr
    assert "missing.gguf" in res.stderr
    assert not (tmp_path / "o.jsonl").exists()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_server(tmp_path):
    s = write(tmp_path / "s.json", json.dumps(GOOD_SCHEMA))
    r = write(tmp_path / "r.yaml", recipe_text(
        model={"backend": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "m", "max_retries": 1},
        generate={"technique": "schema", "schema": "s.json"}))
    res = synthloom("run", r, "-o", tmp_path / "o.jsonl")
    assert_clean(res, 1, "127.0.0.1")
    assert not (tmp_path / "o.jsonl").exists()


@pytest.fixture()
def keyed_server(tmp_path):
    pf = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, str(HELPERS / "record_server.py"), "--port-file", str(pf),
                             "--latency-ms", "0", "--require-key", "sk-right-key-123"])
    for _ in range(100):
        if pf.exists() and pf.read_text():
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{pf.read_text()}/v1"
    proc.kill()
    proc.wait()


def test_wrong_api_key_is_named_not_printed(tmp_path, keyed_server):
    s = write(tmp_path / "s.json", json.dumps({"type": "object", "required": ["subject"],
                                               "properties": {"subject": {"type": "string"}}}))
    args = ("generate", "schema", "--schema", s, "-n", "2", "-o", tmp_path / "o.jsonl", "--backend", "openai",
            "--base-url", keyed_server, "--model", "m", "--api-key-env", "MY_TEAM_KEY")
    res = synthloom(*args, env={"MY_TEAM_KEY": "sk-wrong-key-456"})
    assert_clean(res, 1, "MY_TEAM_KEY")
    assert "sk-wrong-key-456" not in res.stderr + res.stdout
    assert not (tmp_path / "o.jsonl").exists()
    ok = synthloom(*args, env={"MY_TEAM_KEY": "sk-right-key-123"})
    assert ok.returncode == 0, ok.stderr
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2
    for f in (tmp_path / "o.run").iterdir():
        assert b"sk-right-key-123" not in f.read_bytes()


def test_nested_field_path_has_no_union_tags(tmp_path):
    r = write(tmp_path / "n.yaml", recipe_text(generate={"technique": "schema", "schema": GOOD_SCHEMA,
                                                         "sampling": {"temperature": 9}}))
    res = synthloom("run", r)
    assert_clean(res, 2, "n.yaml: generate.sampling.temperature")
    q = write(tmp_path / "q.yaml", recipe_text(quality=[{"gate": "dedup", "methd": "exact"}]))
    assert_clean(synthloom("run", q), 2, "q.yaml: quality[0].methd", "unknown field")
