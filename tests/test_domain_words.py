"""Library code carries no domain's text: rules, prompts and checks fitted to the demo's domain break
every other one. Only the documents technique (whose users write invoices, tickets, reports: its
help and examples name them) may name the demo's domain; `examples/` and `tests/` are not library code."""
from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "synthloom"
DOMAIN = re.compile(r"\b(invoice|billing|ticket)s?\b", re.IGNORECASE)
DOCUMENTS_TECHNIQUE = {"generators/documents.py", "config/documents.py", "cli/documents.py"}


def test_no_module_outside_the_documents_technique_names_the_demos_domain():
    hits = []
    for path in sorted(SRC.rglob("*")):
        rel = path.relative_to(SRC).as_posix()
        if path.suffix not in (".py", ".j2", ".json") or rel in DOCUMENTS_TECHNIQUE \
                or rel.startswith("prompts/documents_"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if DOMAIN.search(line):
                hits.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert not hits, "domain words in library code:\n" + "\n".join(hits)
