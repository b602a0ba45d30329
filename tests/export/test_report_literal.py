"""User text in the run report is shown as written: Markdown specials escaped, `$` in plots is not TeX."""
from __future__ import annotations

import json
import re

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.engine import run_recipe
from synthloom.export.report import write_report

PRICES = ["$x^$", "under $5", "[v2] *sale*"]  # "$x^$" made matplotlib's TeX parser raise; [..] and * are Markdown


def test_report_shows_values_names_and_reasons_literally(tmp_path):
    state = {"i": 0}

    def respond(req):  # the 2nd answer does not parse, the 3rd repeats the 1st (a duplicate shown as an example)
        state["i"] += 1
        n = 1 if state["i"] == 3 else state["i"]
        return "not json" if n == 2 else {"text": f"item {n} costs <b>{n}</b> [usd]"}

    recipe = Recipe.model_validate({
        "name": "tickets[v2]_*draft*", "count": 4,
        "generate": {"technique": "schema", "instruction": "price notes", "attributes": {"price": PRICES},
                     "schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}},
        "engine": {"concurrency": 1},
    })
    run_recipe(recipe, output=tmp_path / "out.jsonl", llm=ScriptedLLM(respond))
    paths = write_report(tmp_path / "out.run")
    assert {"attributes", "rejections"} <= set(paths)  # both plots with the raw values were drawn
    md = paths["markdown"].read_text()
    assert "# Run report: tickets\\[v2\\]\\_\\*draft\\*" in md
    for value in PRICES:  # each attribute value appears escaped, and unescaping gives it back exactly
        escaped = re.sub(r"([\\`*\[\]<|$~])", r"\\\1", value)
        assert f"| {escaped} |" in md, (escaped, md)
    assert "costs \\<b>1\\</b> \\[usd\\]" in md  # a rejected record shown as an example: no raw HTML, no link
    assert set(json.loads(paths["json"].read_text())["distributions"]["attributes"]["price"]["values"]) == set(PRICES)
