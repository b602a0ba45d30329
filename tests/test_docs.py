"""Every command is documented: it has --help text and the README shows it."""
from __future__ import annotations

from pathlib import Path

import typer.main
from typer.testing import CliRunner

from synthloom.cli import app

ROOT = Path(__file__).resolve().parent.parent


def all_commands():
    root = typer.main.get_command(app)

    def walk(cmd, prefix):
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                yield from walk(sub, prefix + [name])
        else:
            yield prefix, cmd
    return list(walk(root, []))


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    runner = CliRunner()
    names = []
    for path, cmd in all_commands():
        names.append(" ".join(path))
        assert (cmd.help or "").strip(), f"synthloom {' '.join(path)} has no help text"
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, res.output
        assert f"synthloom {' '.join(path)}" in readme, f"README does not show `synthloom {' '.join(path)}`"
    assert {"run", "generate schema", "export", "report", "dedup"} <= set(names)


def test_readme_has_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme and "make test-all" in readme
    assert "make test-all" in (ROOT / ".ci" / "run").read_text()


def test_examples_parse():
    from synthloom import load_recipe

    for path in sorted((ROOT / "examples").glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        load_recipe(path)
