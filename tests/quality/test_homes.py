"""Each kind of check has one home: the language-ID loader, the canned-text patterns, the failure type.

Read off the source (ast), so that a second copy is caught where it is written, not when two copies
have drifted apart.
"""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "src" / "synthloom"


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        yield path.relative_to(PKG).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_language_identification_is_loaded_in_one_module():
    loaders = sorted({name for name, tree in _modules() for node in ast.walk(tree)
                      if isinstance(node, (ast.Import, ast.ImportFrom))
                      and any("py3langid" in (alias.name or "") for alias in node.names)
                      | ("py3langid" in (getattr(node, "module", None) or ""))})
    assert loaders == ["quality/language_id.py"], loaders


def test_refusal_boilerplate_and_placeholder_patterns_live_in_canned():
    markers = ("language model", "i apologi", "lorem ipsum", "john doe")
    homes = sorted({name for name, tree in _modules() for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and any(m in node.value.lower() for m in markers) and ("\\b" in node.value or "^" in node.value)})
    assert homes == ["quality/canned.py"], homes


def test_one_type_says_why_a_record_fails():
    """No module defines its own (reason, detail) record besides records.Problem."""
    found = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                fields = [s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
                if fields[:2] in (["reason", "detail"], ["name", "detail"]) and len(fields) == 2:
                    found.append(f"{name}:{node.name}")
    assert found == ["records.py:Problem"], found
