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
from servers import record_server as start_record_server

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
    with start_record_server(tmp_path, "--latency-ms", "0", "--require-key", "sk-right-key-123") as url:
        yield url + '/v1'


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


# --- issue 16: the four kinds that ended in a traceback or a garbled message -----------------------------------
# In-process through the real typer app (fast); the subprocess cases above and below go through `main()` too.

from typer.testing import CliRunner  # noqa: E402

from synthloom.cli import app  # noqa: E402

runner = CliRunner()


def cli(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def one_error_line(res, code: int, *needles: str) -> str:
    """Exit code, no traceback, exactly one line on stderr (`error: ...`) that holds every needle as written."""
    if hasattr(res, "exit_code"):  # CliRunner: an exception that escaped the command is a traceback for a user
        rc, err = res.exit_code, res.stderr
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    else:
        rc, err = res.returncode, res.stderr
    assert rc == code, err
    assert "Traceback" not in err, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture()
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "good.schema.json", json.dumps(GOOD_SCHEMA))
    write(tmp_path / "afile.txt", "a regular file\n")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone" / "x")
    return tmp_path


# kind 1: an output path that cannot be created: which path, why, one line, nothing made anywhere
@pytest.mark.parametrize("out, why", [
    ("afile.txt/out.jsonl", "afile.txt is a file, not a folder"),        # the parent is a regular file
    ("afile.txt/deeper/out.jsonl", "afile.txt is a file, not a folder"),  # ... further up
    ("afile.txt", "afile.txt is a file, not a folder"),                  # the run folder itself is a file
    ("dangling/out.jsonl", "dangling is a link to"),                     # a parent that cannot exist
])
def test_generate_output_path_cannot_be_created(files, out, why):
    before = tree(files)
    one_error_line(cli("generate", "schema", "--schema", "good.schema.json", "-n", "2", "-o", out), 2, out, why)
    assert tree(files) == before
    assert (files / "afile.txt").read_text() == "a regular file\n"


def test_recipe_output_and_export_paths_are_checked_before_the_run(files):
    write(files / "r.yaml", recipe_text(generate={"technique": "schema", "schema": "good.schema.json"},
                                        output={"path": "afile.txt/data.jsonl"}))
    before = tree(files)
    one_error_line(cli("run", "r.yaml"), 2, "output.path 'afile.txt/data.jsonl'", "afile.txt is a file")
    write(files / "e.yaml", recipe_text(generate={"technique": "schema", "schema": "good.schema.json"},
                                        output={"path": "fine/data.jsonl",
                                                "exports": [{"format": "openai", "path": "afile.txt/sft"}]}))
    before = tree(files)
    one_error_line(cli("run", "e.yaml"), 2, "output.exports[0].path 'afile.txt/sft'", "afile.txt is a file")
    assert tree(files) == before  # the run did not start: no fine/ folder, no store


def test_quality_outputs_are_checked_before_anything_is_written(files):
    write(files / "in.jsonl", '{"text": "one two three four"}\n{"text": "five six seven eight"}\n')
    (files / "somedir").mkdir()
    before = tree(files)
    one_error_line(cli("dedup", "in.jsonl", "-o", "somedir"), 2, "somedir: is a folder")
    one_error_line(cli("dedup", "in.jsonl", "-o", "kept.jsonl", "--groups", "afile.txt/g.jsonl"), 2,
                   "afile.txt/g.jsonl", "afile.txt is a file")
    one_error_line(cli("filter", "in.jsonl", "-o", "kept.jsonl", "--rejected", "dangling/r.jsonl"), 2,
                   "dangling/r.jsonl", "is a link to")
    assert tree(files) == before  # kept.jsonl was not written before the second path failed


def test_report_sample_export_folders(tmp_path, monkeypatch):
    from helpers.scripted_run import make_run

    run = make_run(tmp_path, count=3)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "afile.txt", "x")
    before = tree(tmp_path)
    one_error_line(cli("report", run, "-o", "afile.txt/rep"), 2, "afile.txt/rep", "report folder")
    one_error_line(cli("sample", run, "-n", "2", "-o", "afile.txt/rev"), 2, "afile.txt/rev", "review folder")
    one_error_line(cli("export", run, "-o", "afile.txt/sft"), 2, "afile.txt/sft", "export folder")
    one_error_line(cli("report", "typo.run"), 2, "typo.run")
    assert tree(tmp_path) == before  # not even typo.run/report/


def test_model_cache_that_cannot_be_created(files, monkeypatch):
    home = files / "home"
    home.mkdir()
    write(home / ".cache", "not a folder")
    monkeypatch.setenv("HOME", str(home))
    before = tree(files)
    one_error_line(cli("generate", "schema", "--schema", "good.schema.json", "-n", "1", "-o", "o.jsonl"), 2,
                   "model cache", "home/.cache is a file, not a folder", "--gguf")
    assert tree(files) == before  # no o.run/ left behind


# kind 2: a wrong value under model: (a mapping or a list of them) in the recipe's own words, one line
@pytest.mark.parametrize("model, said", [
    ({"backend": "gpt5", "model": "x"}, "model.backend: unknown backend 'gpt5'; use one of: llamacpp, openai"),
    ({"backend": "openai", "base_url": "http://h/v1", "model": "m", "timeout_s": -1}, "model.timeout_s must be > 0 (got -1)"),
    ([{"backend": "llamacpp"}, {"backend": "gpt5"}], "model[1].backend: unknown backend 'gpt5'"),
    ([{"backend": "openai", "base_url": "u", "model": "m", "max_retries": -2}], "model[0].max_retries must be >= 0 (got -2)"),
    ("gpt5", "model must be a mapping or a list (got 'gpt5')"),
    ({"model": "x"}, "model.backend: required field is missing"),
    ({"backend": "openai", "model": "m"}, "model.base_url: required field is missing"),
    ({"backend": "llamacpp", "n_ctx": "big"}, "model.n_ctx must be a whole number (got 'big')"),
    ({"backend": "llamacpp", "prompt_style": "fancy"}, "model.prompt_style must be one of 'auto', 'completion' or 'chat' (got 'fancy')"),
    ({"backend": "llamacpp", "pth": "m.gguf"}, "model.pth: unknown field: did you mean 'path'?"),
    ([{"backend": "llamacpp", "n_threds": 2}], "model[0].n_threds: unknown field: did you mean 'n_threads'?"),
])
def test_model_errors_in_recipe_words(tmp_path, model, said):
    r = write(tmp_path / "m.yaml", recipe_text(model=model))
    line = one_error_line(cli("run", r), 2, f"m.yaml: {said}")
    for python_word in ("tagged-union", "list[", "LlamaCppModel", "Input should"):
        assert python_word not in line


@pytest.mark.parametrize("over, said", [
    ({"count": "two"}, "count must be a whole number (got 'two')"),
    ({"quality": {"gate": "dedup"}}, "quality must be a list (got a mapping)"),
    ({"generate": {"technique": "schema", "schema": 5}}, "generate.schema must be a mapping or text (got 5)"),
    ({"engine": {"concurrency": 0}}, "engine.concurrency must be > 0 (got 0)"),
    ({"output": {"with_meta": "maybe"}}, "output.with_meta must be true or false (got 'maybe')"),
    ({"count": 0}, "count must be > 0 (got 0)"),
    ({"engine": {"concurency": 4}}, "engine.concurency: unknown field: did you mean 'concurrency'? (or remove it)"),
    ({"outptu": {}}, "outptu: unknown field: did you mean 'output'?"),
    ({"quality": [{"gate": "judge", "model": {"backend": "gpt5"}}]}, "quality[0].model.backend: unknown backend 'gpt5'"),
    ({"generate": {"technique": "extract", "docs": "d", "schema": GOOD_SCHEMA, "chunking": {"size": 10, "overlap": 20}}},
     "generate.chunking.overlap (20) must be smaller than chunking.size (10)"),
])
def test_other_fields_in_recipe_words(tmp_path, over, said):
    r = write(tmp_path / "o.yaml", recipe_text(**over))
    one_error_line(cli("run", r), 2, f"o.yaml: {said}")


# kind 3: broken YAML/JSON in any input file: file, line, column, what to fix, one line
BROKEN = {
    "unclosed.yaml": ("type: object\nproperties: {a: [unclosed\n", "line 3, column 1", "close the '[' opened at line 2, column 17"),
    "tabs.yaml": ("type: object\n\tproperties: {}\n", "line 2, column 1", "indent with spaces, not tabs"),
    "colon.yaml": ("type: object\ndescription: a: b\n", "line 2, column 15", "quotes around a value"),
    "comma.json": ('{"type": "object",}', "line 1, column 19", "not valid JSON"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_schema_file(files, name):
    text, where, fix = BROKEN[name]
    write(files / name, text)
    one_error_line(cli("generate", "schema", "--schema", name, "-n", "1", "-o", "o.jsonl"), 2, name, where, fix)
    assert not (files / "o.jsonl").exists() and not (files / "o.run").exists()


def test_broken_yaml_in_every_input(files):
    write(files / "rules.yaml", "- rule: sum\n  items: [a, b\n")
    write(files / "ex.yaml", "- label: {a: 1}\n  document: 'unclosed\n")
    write(files / "broken.schema.yaml", "type: object\nproperties: {a: 1\n")
    (files / "docs").mkdir()
    write(files / "docs" / "d.txt", "Invoice 12, total 40 EUR.")
    one_error_line(cli("generate", "extract", "--docs", "docs", "--schema", "good.schema.json", "--rules", "rules.yaml",
                       "-n", "1", "-o", "x"), 2, "rules.yaml: not valid YAML at line", "column")
    one_error_line(cli("generate", "documents", "--schema", "good.schema.json", "--examples", "ex.yaml",
                       "-n", "1", "-o", "x"), 2, "ex.yaml: not valid YAML at line", "close the quote")
    write(files / "r.yaml", recipe_text(generate={"technique": "schema", "schema": "broken.schema.yaml"}))
    one_error_line(cli("run", "r.yaml"), 2, "broken.schema.yaml: not valid YAML at line 3, column 1")
    one_error_line(cli("judge", "docs/d.txt", "-o", "j.jsonl", "--rubric", "docs"), 2, "docs: is a folder")
    assert not (files / "x").exists()


def test_broken_prompt_template_override(files):
    (files / "prompts").mkdir()
    write(files / "prompts" / "schema_user.j2", "Write {{ instruction \n")
    res = synthloom("generate", "schema", "--schema", "good.schema.json", "-n", "1", "-o", "o.jsonl", cwd=files,
                    env={"SYNTHLOOM_PROMPTS_DIR": str(files / "prompts")})
    one_error_line(res, 2, "prompts/schema_user.j2: not a valid prompt template at line 1", "built-in schema_user.j2")
    assert not (files / "o.jsonl").exists() and not (files / "o.run").exists()


# kind 4: user text printed literally (no rich markup): errors, the run summary, tables, report
def test_square_brackets_survive_in_errors(files):
    one_error_line(cli("generate", "schema", "--schema", "tickets[v2].schema.json", "-n", "1", "-o", "o.jsonl"), 2,
                   "'tickets[v2].schema.json' does not exist")
    write(files / "t[v2].yaml", "type: object\nrequired: [items]\nproperties: {items: {type: lst}}\n")
    one_error_line(cli("generate", "schema", "--schema", "t[v2].yaml", "-n", "1", "-o", "o.jsonl"), 2,
                   "t[v2].yaml: invalid JSON schema at properties/items/type")
    write(files / "[b]old.yaml", recipe_text(engine={"[red]seed": 1}))
    one_error_line(cli("run", "[b]old.yaml"), 2, "[b]old.yaml: engine.[red]seed: unknown field")


def test_unexpected_errors_are_one_line_without_debug_and_a_traceback_with_it(files):
    n = "x" * 300  # a name longer than the file system allows: an OSError no check foresaw
    res = synthloom("generate", "schema", "--schema", "good.schema.json", "-n", "1", "-o", f"{n}/o.jsonl", cwd=files)
    one_error_line(res, 1, "File name too long", f"{n}/o.jsonl")
    res = synthloom("generate", "schema", "--schema", "good.schema.json", "-n", "1", "-o", f"{n}/o.jsonl", "--debug",
                    cwd=files)
    assert res.returncode == 1 and "Traceback" in res.stderr and "File name too long" in res.stderr


@pytest.fixture()
def open_server(tmp_path):
    with start_record_server(tmp_path, "--latency-ms", "0") as url:
        yield url + '/v1'


def test_summary_and_report_print_paths_literally(tmp_path, open_server, monkeypatch):
    s = write(tmp_path / "s.json", json.dumps({"type": "object", "required": ["subject"],
                                               "properties": {"subject": {"type": "string"}}}))
    out = tmp_path / "tickets[v2].jsonl"
    res = synthloom("generate", "schema", "--schema", s, "-n", "2", "-o", out, "--backend", "openai",
                    "--base-url", open_server, "--model", "m", "--api-key-env", "NO_KEY_NEEDED", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"-> {out}" in res.stderr and "[v2]" in res.stderr
    run = tmp_path / "tickets[v2].run"
    res = cli("report", run)
    assert res.exit_code == 0, res.output
    assert str(run / "report" / "report.md") in res.stdout
    md = (run / "report" / "report.md").read_text()
    assert "# Run report: tickets\\[v2\\]" in md  # escaped, so Markdown shows the brackets
