"""A `synthloom generate <tag>` command built from a technique's config model (cli/built.py)."""
from __future__ import annotations

import typer
from typer.testing import CliRunner

from synthloom.cli.built import flag_fields, technique_command
from synthloom.config.catalog import TECHNIQUES

CONFIGS = {t.tag: t.config for t in TECHNIQUES}


def app_for(tag: str) -> typer.Typer:
    app = typer.Typer()
    app.command(tag)(technique_command(CONFIGS[tag], tag))
    app.command("other")(lambda: None)  # two commands: typer keeps the command's name on the line
    return app


def test_the_flags_are_the_fields_a_flag_can_say():
    fields = flag_fields(CONFIGS["self_instruct"])
    assert {"seeds", "rouge_threshold", "min_words", "blacklist", "classification"} <= set(fields)
    assert "technique" not in fields and "signals" in fields  # a list of words is a repeated flag
    help_text = CliRunner().invoke(app_for("self_instruct"), ["self_instruct", "--help"], env={"COLUMNS": "200"}).output
    assert "--rouge-threshold" in help_text and "--blacklist" in help_text and "one of: model, seeds_only" in help_text


def test_a_field_named_like_a_shared_option_is_left_to_the_recipe():
    from typing import Literal

    from synthloom.config.common import Strict

    class Clash(Strict):
        technique: Literal["clash"] = "clash"
        seed: int = 3
        count: int = 2
        topic: str = "x"

    assert list(flag_fields(Clash)) == ["topic"]
    app = typer.Typer()
    app.command("clash")(technique_command(Clash, "clash"))  # no clash with --seed / -n
    app.command("other")(lambda: None)
    assert CliRunner().invoke(app, ["clash", "--help"]).exit_code == 0


def test_a_bad_value_is_named_by_its_flag_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(app_for("self_instruct"),
                             ["self_instruct", "--seeds", "seeds.jsonl", "--rouge-threshold", "7", "-o", str(out)])
    assert res.exit_code == 2
    assert "--rouge-threshold must be <= 1 (got 7.0)" in res.output
    assert not out.exists()
