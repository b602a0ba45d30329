"""The option bundles every command shares: defined once, the same on every command, errors clean."""
from __future__ import annotations

import typer
import typer.main
from typer.testing import CliRunner

from synthloom.cli import app
from synthloom.cli.options import MODEL, RUN, RunFlags, command

runner = CliRunner()


def _commands():
    def walk(cmd, path):
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                yield from walk(sub, path + [name])
        else:
            yield path, cmd
    return list(walk(typer.main.get_command(app), []))


def _options(cmd) -> dict[str, tuple]:
    return {o: (p.default, p.help) for p in cmd.params for o in getattr(p, "opts", []) if o.startswith("--")}


def test_a_bundle_becomes_options_where_it_stands_and_reaches_the_command_as_one_value():
    seen = {}

    @command
    def make(name: str = typer.Option("x", "--name", help="A name."), run: RunFlags = RUN, model: dict = MODEL,
             last: int = typer.Option(1, "--last", help="After the bundles.")) -> None:
        """A command with both bundles."""
        seen.update(name=name, run=run, model=model, last=last)

    small = typer.Typer()
    small.command("make")(make)
    small.command("other")(make)  # a second command, so `make` is a subcommand as in the real app
    res = runner.invoke(small, ["make", "--concurrency", "3", "--max-attempts", "9", "--with-meta",
                                "--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--model", "m"])
    assert res.exit_code == 0, res.output
    assert seen["run"] == RunFlags(concurrency=3, seed=0, max_attempts=9, with_meta=True)
    assert seen["run"].engine() == {"concurrency": 3, "seed": 0, "max_attempts": 9}
    assert seen["model"] == {"backend": "openai", "base_url": "http://127.0.0.1:1/v1", "model": "m"}
    names = [o for p in typer.main.get_command(small).commands["make"].params for o in p.opts if o.startswith("--")]
    assert names == ["--name", "--concurrency", "--seed", "--max-attempts", "--with-meta", "--rejected", "--checks",
                     "--backend", "--base-url", "--model", "--api-key-env", "--gguf", "--last", "--debug"]


def test_a_bad_bundle_value_is_one_line_and_exit_2():
    res = runner.invoke(app, ["judge", "in.jsonl", "-o", "out.jsonl", "--backend", "vllm"])
    assert res.exit_code == 2
    assert res.output.strip() == "error: --backend must be llamacpp or openai (got 'vllm')"
    res = runner.invoke(app, ["generate", "qa", "--docs", ".", "--backend", "openai"])
    assert res.exit_code == 2 and "--backend openai needs --base-url" in res.output and "Traceback" not in res.output


def test_every_command_takes_debug_last():
    for path, cmd in _commands():
        flags = [o for p in cmd.params for o in getattr(p, "opts", []) if o.startswith("--")]
        assert flags[-1] == "--debug", f"synthloom {' '.join(path)}"
        assert len(flags) == len(set(flags)), f"synthloom {' '.join(path)} repeats an option"


def test_every_generate_command_has_the_same_run_and_model_options():
    shared = ["--concurrency", "--seed", "--max-attempts", "--with-meta", "--rejected",
              "--backend", "--base-url", "--model", "--api-key-env", "--gguf"]
    from synthloom.config.catalog import TECHNIQUES

    generate = [(path, cmd) for path, cmd in _commands() if path[0] == "generate"]
    assert sorted(p[1] for p, _ in generate) == sorted(t.tag.replace("_", "-") for t in TECHNIQUES)
    first = _options(generate[0][1])
    for path, cmd in generate:
        opts = _options(cmd)
        for flag in shared:
            assert opts.get(flag) == first[flag], f"synthloom {' '.join(path)} {flag}"
    # the gate commands that ask a model use the same model options
    by_name = dict((" ".join(p), c) for p, c in _commands())
    for name in ("judge", "label-check"):
        assert all(_options(by_name[name])[f] == first[f] for f in shared[5:]), name


def test_count_is_checked_once_by_the_recipe_and_named_as_the_flag(tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    for args in (["generate", "schema", "--schema", str(examples / "invoice.schema.json"), "-n", "0"],
                 ["generate", "self-instruct", "--seeds", str(examples / "seeds.jsonl"), "-n", "-2"],
                 ["generate", "redteam", "--system", "A support bot.", "-n", "0"],
                 ["generate", "documents", "--schema", str(examples / "invoice.schema.json"), "-n", "0"]):
        res = runner.invoke(app, args + ["-o", str(tmp_path / "out")])
        got = args[args.index("-n") + 1]
        assert res.exit_code == 2, (args, res.output)
        assert f"error: -n/--count must be > 0 (got {got}): ask for at least one record" in res.output, res.output
        assert not (tmp_path / "out").exists()
