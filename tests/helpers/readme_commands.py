"""Every `synthloom ...` command shown in README.md and in the guide pages it links (GUIDE, in reading
order), and every recipe in examples/, as a runnable list.

Shared by tests/test_readme_commands.py (runs each with a smaller -n) and
benchmarks/readme_commands.py (runs each as written and records yield and wall time).
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the files the README's generic file commands (dedup, filter, judge, label-check) read
IN_ROWS = [
    {"text": "The battery lasts two full days and the screen is bright in sunlight.", "label": "positive"},
    {"text": "The battery lasts two full days and the screen is bright in sunlight!", "label": "positive"},
    {"text": "It stopped charging after a week and support never answered my emails.", "label": "negative"},
    {"text": "Great value for the price, fast delivery and sturdy packaging.", "label": "positive"},
]


@dataclass
class Command:
    line: str  # as written in the README (continuations joined)
    argv: list[str]  # after `synthloom`

    @property
    def name(self) -> str:
        return " ".join(a for a in self.argv[:2] if not a.startswith("-"))


# README.md, then the guide pages in the order a reader follows them: a later page's commands may read
# what an earlier one wrote (the review page reads the run the quality page made)
GUIDE = ["README.md", "docs/backends.md", "docs/techniques/schema.md", "docs/techniques/instruct.md",
         "docs/techniques/documents.md", "docs/techniques/classification.md", "docs/techniques/redteam.md",
         "docs/techniques/conversations.md", "docs/techniques/tools.md", "docs/quality.md", "docs/review.md",
         "docs/cost.md", "docs/train.md", "docs/ray.md"]


def readme_commands(pages: list[str] | None = None) -> list[Command]:
    """The `synthloom ...` lines of the bash blocks of README.md and the guide pages, in order (comments
    dropped)."""
    out = []
    for page in pages or GUIDE:
        out += _page_commands(ROOT / page)
    return out


def _page_commands(readme: Path) -> list[Command]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", readme.read_text(encoding="utf-8"), re.S):
        text = block.replace("\\\n", " ")
        for raw in text.splitlines():
            for line in raw.split(" #")[0].split("&&"):  # `a && b` is two commands, run in order
                line = line.strip()
                if line.startswith("synthloom "):
                    out.append(Command(line=" ".join(line.split()), argv=shlex.split(line)[1:]))
    return out


def example_recipes() -> list[Command]:
    """`synthloom run examples/<recipe>.yaml` for every recipe in examples/."""
    return [Command(line=f"synthloom run examples/{p.name}", argv=["run", f"examples/{p.name}"])
            for p in sorted((ROOT / "examples").glob("*.yaml"))]


def with_count(argv: list[str], n: int | None) -> list[str]:
    """The command with its -n (or a recipe run's count) set to n; None leaves it as written."""
    if n is None:
        return list(argv)
    out = list(argv)
    for flag in ("-n", "--count"):
        if flag in out:
            out[out.index(flag) + 1] = str(n)
            return out
    if out[0] == "run" or out[:2] == ["generate", "extract"]:
        return out + ["-n", str(n)] if out[0] == "run" else out
    return out


def workdir(tmp: Path) -> Path:
    """A fresh folder with examples/ and the generic input files, as a new user's clone would have."""
    shutil.copytree(ROOT / "examples", tmp / "examples")
    with open(tmp / "in.jsonl", "w", encoding="utf-8") as fh:
        for row in IN_ROWS:
            fh.write(json.dumps(row) + "\n")
    return tmp


def run_dir_of(argv: list[str], cwd: Path) -> Path | None:
    """The run directory a generate/run command writes (from -o, or the recipe's output path)."""
    if "-o" in argv and argv[0] in ("generate", "run"):
        out = cwd / argv[argv.index("-o") + 1]
        return out if out.suffix not in (".jsonl", ".parquet") else out.with_suffix(".run")
    if argv[0] == "run":
        import yaml

        recipe = yaml.safe_load((cwd / argv[1]).read_text())
        out = cwd / recipe["output"]["path"]
        return out.with_suffix(".run") if out.suffix in (".jsonl", ".parquet") else out
    return None


def yield_of(run_dir: Path | None) -> tuple[int, int] | None:
    """(accepted, attempts) of the last run in a run directory's store."""
    if run_dir is None or not (run_dir / "store.sqlite").is_file():
        return None
    con = sqlite3.connect(run_dir / "store.sqlite")
    try:
        return (con.execute("select count(*) from records").fetchone()[0],
                con.execute("select count(*) from slots").fetchone()[0])
    finally:
        con.close()


def lighten(argv: list[str]) -> list[str]:
    """The command with its training steps cut to a few (the suite checks it runs, not what it learns)."""
    out = list(argv)
    if "--max-steps" in out:
        out[out.index("--max-steps") + 1] = "2"
    return out


def serve_once(argv: list[str], cwd: Path, timeout: float) -> tuple[int, float, str]:
    """A command that serves a page (`synthloom review`): start it, load the address it prints, stop it."""
    import urllib.request

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "synthloom", *argv, "--no-open"], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[str] = []
    try:
        while time.perf_counter() - t0 < timeout:
            line = proc.stdout.readline()
            if not line:
                return proc.wait(), time.perf_counter() - t0, "".join(seen)[-2000:]
            seen.append(line)
            url = re.search(r"http://127\.0\.0\.1:\d+/\S*", line)
            if url:
                with urllib.request.urlopen(url.group(0), timeout=10) as r:
                    code = 0 if r.status == 200 and b"<html" in r.read(4096).lower() else 1
                return code, time.perf_counter() - t0, "".join(seen)[-2000:]
        return 124, time.perf_counter() - t0, "".join(seen)[-2000:]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(argv: list[str], cwd: Path, timeout: float) -> tuple[int, float, str]:
    """(exit code, wall seconds, last output) of `synthloom argv` in cwd."""
    if argv[0] == "review":
        return serve_once(argv, cwd, timeout)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "synthloom", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, time.perf_counter() - t0, (proc.stdout + proc.stderr)[-2000:]


def prepare(argv: list[str], cwd: Path) -> None:
    """What a person does between two README commands: mark the review sample before importing it."""
    if argv[0] == "review-import" and argv[1].endswith(".md") and (cwd / argv[1]).is_file():
        path = cwd / argv[1]
        path.write_text(path.read_text(encoding="utf-8").replace("- [ ] accept", "- [x] accept", 3), encoding="utf-8")
    if argv[0] == "distill" and (cwd / argv[1]).is_file():  # a smaller teacher run and a few training steps
        import yaml

        path = cwd / argv[1]
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec["count"] = 28 if spec.get("student", {}).get("kind") != "lora" else 4  # >= 5 per intent after dedup: train's minimum
        if isinstance(spec.get("teacher"), dict):
            spec["teacher"]["count"] = spec["count"]
        spec.setdefault("student", {}).update({"min_per_label": 1} if spec["student"].get("kind") != "lora"
                                              else {"max_steps": 2})
        if spec.get("eval", {}).get("teacher"):
            spec["eval"]["limit"] = 1
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    if argv[0] == "review-import" and argv[1].endswith(".jsonl") and (cwd / argv[1]).is_file():
        path = cwd / argv[1]
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for i, row in enumerate(rows):
            row["verdict"] = "accept" if i % 4 else "reject"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
