"""Every `synthloom ...` command in README.md and every recipe in examples/ completes as written on the
bundled model (with -n 1, so that the suite stays short): exit code 0, and a generate/run command
delivers at least one record with no placeholder, no impossible date. The same commands at the README's
-n, with yield and wall time: benchmarks/readme_commands.py -> docs/benchmarks_readme_commands.md."""
from __future__ import annotations

import json
import re
from datetime import date

import pytest

from helpers.llama_server import llama_server  # noqa: F401  (the fixture: a target for `synthloom redteam`)
from helpers.readme_commands import (example_recipes, lighten, prepare, readme_commands, run, run_dir_of,  # noqa: E402
                                     with_count, workdir, yield_of)

N = 1


def _commands():
    seen, out = set(), []
    for c in readme_commands() + example_recipes():
        key = tuple(with_count(c.argv, N))
        if c.argv[0] == "run" and key in seen:
            continue  # a recipe the README already runs (the README's second run, from the cache, stays)
        seen.add(key)
        out.append(c)
    return out


def _records(run_dir):
    from synthloom.engine import RunStore

    with RunStore(run_dir / "store.sqlite") as store:
        return [r.data for r in store.iter_accepted()]


def _plausible(value, path=""):
    """Problems a reader would see: placeholders, impossible dates."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _plausible(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _plausible(v, f"{path}[{i}]")]
    if isinstance(value, str):
        if re.search(r"\$\{|\{\{|<placeholder>|\[insert", value):
            return [f"{path}: placeholder {value[:60]!r}"]
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                if not 1900 <= date.fromisoformat(value).year <= 2100:
                    return [f"{path}: implausible date {value}"]
            except ValueError:
                return [f"{path}: not a date {value}"]
    return []


COMMANDS = _commands()


@pytest.fixture(scope="module")
def readme_cwd(tmp_path_factory):
    """One fresh folder for all the commands, run in the README's order (a later one reads what an earlier
    one wrote, as a person following the README would)."""
    return workdir(tmp_path_factory.mktemp("readme"))


@pytest.mark.model
@pytest.mark.readme
@pytest.mark.parametrize("c", COMMANDS, ids=[f"{i:02d}-{c.name}" for i, c in enumerate(COMMANDS)])
def test_readme_command_completes(c, readme_cwd, llama_server):
    """One README command or example recipe: exit 0, and a generate/run command delivers a plausible record."""
    cwd = readme_cwd
    argv = lighten(with_count(c.argv, N))
    if "--target-base-url" in argv:  # the README starts the bundled model's server on :8080 for this
        argv[argv.index("--target-base-url") + 1] = llama_server
    prepare(argv, cwd)  # e.g. mark the review sample, as the person reviewing it would
    code, wall, tail = run(argv, cwd, timeout=600)
    assert code == 0, f"{c.line}\n  (ran: {' '.join(argv)}) exit {code} after {wall:.0f} s:\n{tail[-600:]}"
    run_dir = run_dir_of(argv, cwd)
    if run_dir is not None:
        got = yield_of(run_dir)
        assert got and got[0] >= 1, f"{c.line}: no record accepted ({got})"
        problems = [p for rec in _records(run_dir) for p in _plausible(rec)]
        assert not problems, f"{c.line}: {problems[:3]}"
    if c.argv[:2] == ["generate", "qa"] and "--rag-format" in c.argv:
        # outputs the README names are where it says
        assert (cwd / "out/qa/rag_eval.jsonl").is_file()
        assert json.loads((cwd / "out/qa/rag_eval.jsonl").read_text().splitlines()[0])["question"]
