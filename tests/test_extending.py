"""docs/extending.md's worked example, run: its blocks written into a copy of the package, its recipe run.

The page claims that a technique and a gate are three files each; this test writes exactly the
page's blocks into a copy of src/ (new files, and the rows into config/catalog.py) and runs the
page's recipe in a fresh interpreter with a scripted model, so the page cannot drift from the code.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "extending.md"


def blocks() -> list[tuple[str, str]]:
    """(first-line comment: the file, the rest) of each fenced block of the page."""
    found = re.findall(r"```(?:python|yaml)\n# (\S+)\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    return [(path, body) for path, body in found]


def add_rows(catalog: str, body: str) -> str:
    """The page's catalog block applied: its imports after the last import, its rows at the end of their table."""
    lines = catalog.splitlines()
    for line in body.splitlines():
        if line.startswith("from "):
            last = max(i for i, x in enumerate(lines) if x.startswith("from ."))
            lines.insert(last + 1, line)
        elif line.strip():
            table = {"Technique(": "TECHNIQUES:", "Gate(": "GATES:"}[line.strip().split("(")[0] + "("]
            start = next(i for i, x in enumerate(lines) if x.startswith(table))
            end = next(i for i in range(start, len(lines)) if lines[i] == ")")
            lines.insert(end, line)
    return "\n".join(lines) + "\n"


RUN = """
import json, sys
from fakes import ScriptedLLM
from synthloom import load_recipe, run_recipe
from synthloom.engine import RunStore

answers = iter(["Boil water, not patience.", "RING RING GET OUT OF MY WAY", "Ring twice, ride safe."] * 10)
summary = run_recipe(load_recipe(sys.argv[1]), output=sys.argv[2], llm=ScriptedLLM(lambda req: next(answers)))
rows = [json.loads(x) for x in open(sys.argv[2] + "/data.jsonl")]
print(json.dumps({"rows": rows, "modules": sorted(m for m in sys.modules if m.startswith("synthloom.generators."))}))
"""


def test_the_worked_example_runs(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "synthloom", src / "synthloom", ignore=shutil.ignore_patterns("__pycache__"))
    found = blocks()
    assert [p for p, _ in found] == [
        "src/synthloom/config/slogans.py", "src/synthloom/generators/slogans.py", "src/synthloom/config/catalog.py",
        "src/synthloom/config/shouting.py", "src/synthloom/quality/shouting.py", "src/synthloom/config/catalog.py",
        "slogans.yaml"]
    for path, body in found:
        target = tmp_path / path
        assert path.endswith("catalog.py") or not target.exists(), f"{path}: the example overwrites a real file"
        target.write_text(add_rows(target.read_text(), body) if path.endswith("catalog.py") else body)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT / "tests")])}
    out = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "slogans.yaml"), str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rows = result["rows"]
    assert len(rows) == 4
    assert {r["product"] for r in rows} == {"a kettle", "a bicycle bell"}
    assert all(r["slogan"] in ("Boil water, not patience.", "Ring twice, ride safe.") for r in rows)  # no shouting
    # the run imported its own technique's module and no other technique's
    assert [m for m in result["modules"] if m.rpartition(".")[2] in
            {"schema", "qa", "extract", "tools", "conversation", "redteam"}] == []
    rejected = subprocess.run(
        [sys.executable, "-c", "import sqlite3, sys; print([r[0] for r in sqlite3.connect(sys.argv[1]).execute("
         "'select reason from rejections')])", str(tmp_path / "out" / "store.sqlite")],
        capture_output=True, text=True, timeout=30)
    assert "shouting" in rejected.stdout, rejected.stdout + rejected.stderr

    cli = subprocess.run([sys.executable, "-m", "synthloom", "generate", "slogans", "--help"],
                         capture_output=True, text=True, env={**env, "COLUMNS": "200"}, cwd=tmp_path, timeout=60)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "--products" in cli.stdout and "--max-words" in cli.stdout and "what the slogans are for" in cli.stdout
