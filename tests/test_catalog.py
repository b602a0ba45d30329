"""config/catalog.py is the one list of techniques and gates: every row has what a user meets.

A tag a recipe accepts has a builder the engine finds, a `synthloom generate` command (techniques)
and a docs page that speaks of it; and a run loads only the generator its recipe names.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import typer.main

from synthloom.cli import app
from synthloom.config import Recipe
from synthloom.config.catalog import GATES, TECHNIQUES
from synthloom.generators import TECHNIQUES as GENERATOR_TABLE
from synthloom.quality import GATES as GATE_TABLE

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _accepted_tags(field: str) -> set[str]:
    """The tags the Recipe model accepts at `field` (from its JSON schema's discriminator)."""
    schema = Recipe.model_json_schema()
    prop = schema["properties"][field]
    prop = prop.get("items", prop)
    return set(prop["discriminator"]["mapping"])


def _defines_build(target: str) -> bool:
    module, _, attr = target.partition(":")
    path = SRC / (module.replace(".", "/") + ".py")
    assert path.is_file(), f"{module}: no such module ({path.relative_to(ROOT)}); a tag's module is named as the tag"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == attr for n in tree.body)


def test_tags_are_unique_and_the_tables_agree():
    tags = [t.tag for t in TECHNIQUES]
    gates = [g.tag for g in GATES]
    assert len(tags) == len(set(tags)) and len(gates) == len(set(gates))
    assert _accepted_tags("generate") == set(tags) == set(GENERATOR_TABLE)
    assert _accepted_tags("quality") == set(gates) == set(GATE_TABLE)


def test_every_row_has_its_builder():
    missing = [f"{row.tag}: {target}" for row, target in
               [(t, t.generator) for t in TECHNIQUES] + [(g, g.builder) for g in GATES] if not _defines_build(target)]
    assert not missing, "rows whose module has no top-level `build`: " + "; ".join(missing)


def test_every_row_has_a_page_that_names_it():
    for row in [*TECHNIQUES, *GATES]:
        page = ROOT / row.docs
        assert page.is_file(), f"{row.tag}: its page {row.docs} does not exist"
        text = page.read_text(encoding="utf-8")
        key = "technique" if row in TECHNIQUES else "gate"
        spelled = [rf"{key}: {row.tag}\b", rf"`{row.tag}`", rf"generate {row.tag.replace('_', '-')}\b"]
        assert any(re.search(s, text) for s in spelled), \
            f"{row.docs} shows neither `{key}: {row.tag}`, `{row.tag}` in backquotes nor `generate {row.tag}`"


def test_every_technique_has_a_generate_command():
    group = typer.main.get_command(app).commands["generate"]
    missing = [t.tag for t in TECHNIQUES if t.tag.replace("_", "-") not in group.commands]
    assert not missing, f"techniques without `synthloom generate <tag>`: {missing}"


def test_a_run_imports_only_the_generator_it_names():
    code = ("import sys; from synthloom.config import Recipe; from synthloom.generators import build_generator;"
            "r = Recipe.model_validate({'count': 1, 'generate': {'technique': 'schema', 'schema': {'type': 'object'}}});"
            "build_generator(r.generate, '.');"
            "print(sorted(m.rpartition('.')[2] for m in sys.modules if m.startswith('synthloom.generators.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = set(eval(out.stdout.strip()))  # noqa: S307 (our own print of a list of names)
    others = {t.tag for t in TECHNIQUES} - {"schema"}
    assert "schema" in loaded and not (loaded & others), f"a schema run imported {sorted(loaded & others)}"
