"""Self-Instruct's new tasks on the bundled model: the paper's numbered list continued line by line."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from synthloom.config.instruct import SelfInstructTechnique
from synthloom.generators.base import GenContext
from synthloom.generators.self_instruct import build
from synthloom.quality.rouge import rouge_l
from synthloom.records import Record

SEEDS = Path(__file__).resolve().parents[2] / "examples" / "seeds.jsonl"
pytestmark = pytest.mark.model


def test_bundled_model_writes_one_line_tasks_new_against_the_seeds():
    from synthloom.llm.factory import build_llm

    g = build(SelfInstructTechnique(seeds=str(SEEDS), instances_per_task=1, classification="seeds_only",
                                    sampling={"max_tokens": 120}), SEEDS.parent)
    seeds = [s.instruction for s in g.seeds]
    llm = build_llm([])
    accepted: list[Record] = []

    async def slots():
        out = []
        for slot in range(4):
            out += await g.produce(slot, GenContext(llm=llm, seed=0, accepted=accepted))
            accepted.extend(o for o in out if isinstance(o, Record) and o not in accepted)
        await llm.aclose()
        return out

    out = asyncio.run(slots())
    assert all(o.meta["prompt_form"] == "document" for o in out)  # auto on the bundled base model
    tasks = list(dict.fromkeys(r.data["instruction"] for r in out if isinstance(r, Record)))
    assert len(tasks) >= 2, [(o.reason, o.data) for o in out if not isinstance(o, Record)]
    for t in tasks:
        assert "\n" not in t and not t.startswith(("10.", "9.")), t  # one line, not the list's next number
        words = t.split()
        assert 3 < len(words) <= 40 and sum(bool(re.fullmatch(r"[A-Za-z][A-Za-z'’-]*[.,?!:;]?", w))
                                            for w in words) >= 0.8 * len(words), t
        assert max(rouge_l(s, t) for s in seeds) <= 0.7, t  # new against the seeds
