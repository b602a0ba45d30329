"""The report puts each sampler's target next to what was tried and accepted: a gate that distorts a
distribution shows, and topic leaves never reached are named."""
from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from synthloom.engine import arun_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.export.report import build_report, write_report
from tests.fakes import ScriptedLLM

SCHEMA = {"type": "object", "properties": {
    "category": {"type": "string", "enum": ["billing", "outage", "account"]},
    "waited_days": {"type": "integer"}, "text": {"type": "string"}},
    "required": ["category", "waited_days", "text"]}


def test_target_tried_and_accepted_per_sampler_and_leaves_never_reached(tmp_path: Path):
    turn = itertools.count()

    def answer(req):
        user = req.messages[-1]["content"]
        if "Name one subtopic" in user:
            return {"subtopic": ["alpha one", "beta two", "gamma three"][next(turn) % 3]}
        props = req.json_schema["properties"]
        if props["category"]["enum"] == ["outage"]:
            return "not json"  # this value is always rejected: the accepted share drifts from the target
        return {"category": props["category"]["enum"][0], "waited_days": props["waited_days"]["enum"][0],
                "text": f"record {req.seed}"}

    data = {"name": "variety", "count": 12, "engine": {"seed": 0, "max_attempts": 24},
            "quality": [],
            "generate": {"technique": "schema", "schema": SCHEMA, "retries": 0, "samplers": {
                "category": {"kind": "category", "values": {"billing": 2, "outage": 1, "account": 1}},
                "waited_days": {"kind": "number", "distribution": "poisson", "params": {"mu": 3}},
                "topic": {"kind": "topic_tree", "root": "root", "breadth": 3, "depth": 1},
                "who": {"kind": "person"}}}}
    summary = asyncio.run(arun_recipe(recipe_from_dict(data, "test"), base_dir=tmp_path, output=tmp_path / "out",
                                      llm=ScriptedLLM(answer)))
    assert summary.accepted == 12
    report = build_report(summary.run_dir, embedder=None)
    sec = report["distributions"]["samplers"]
    cat = sec["category"]["values"]
    assert cat["billing"]["target_share"] == 0.5 and cat["outage"]["target_share"] == 0.25
    assert cat["outage"]["tried"] > 0 and cat["outage"]["count"] == 0 and sec["category"]["missing"] == ["outage"]
    assert cat["billing"]["share"] > cat["billing"]["tried_share"]
    assert sec["waited_days"]["quantiles"]["target"]["p50"] == 3.0
    assert sec["waited_days"]["quantiles"]["accepted"]["mean"] > 0
    assert set(sec["topic"]["values"]) == {"alpha one", "beta two", "gamma three"}
    assert sec["who"]["distinct"] == 12  # a person per record, not a short list
    assert sec["waited_days"]["quantiles"]["tried"]["mean"] > 0
    assert "who" not in report["distributions"]["attributes"]  # samplers are not listed as flat axes
    paths = write_report(summary.run_dir, tmp_path / "report", embedder=None)
    md = paths["markdown"].read_text()
    if "samplers" in paths:  # with matplotlib (the report extra): category, topic and the strata drawn
        assert paths["samplers"].read_bytes().startswith(b"\x89PNG") and "![samplers]" in md
    assert "Planned variety" in md and "1 of 3 rejected every time: outage" in md
