"""Self-Instruct's new-instruction step alone, both prompt forms, on the bundled model (the later steps do
not change with the form). For each form, `n` slots of one seed file, in order; a line that passes the
technique's instruction filter and ROUGE-L check joins the pool the next prompts draw from, as in a run.

    flock /tmp/synthloom-model.lock .venv/bin/python benchmarks/self_instruct_tasks.py examples/seeds.jsonl 20

Prints per form: calls, wall, load, and every line written with the filter's verdict, for reading
(docs/benchmarks_junk.md)."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from synthloom.config.instruct import SelfInstructTechnique
from synthloom.generators.base import GenContext
from synthloom.generators.self_instruct import build
from synthloom.llm.factory import build_llm
from synthloom.records import Record


async def one_form(llm, seeds: Path, form: str, n: int) -> None:
    g = build(SelfInstructTechnique(seeds=str(seeds.resolve()), prompt_form=form), seeds.parent)
    pool: list[Record] = []
    load0, t0, lines = os.getloadavg()[0], time.perf_counter(), []
    for slot in range(n):
        ctx = GenContext(llm=llm, seed=0, accepted=pool)
        _, req = g.task_prompt(slot, ctx)
        (res,) = await llm.generate([req])
        if req.prompt is not None:
            text = " ".join(res.text.split())
        else:
            text = str((res.parsed_object or {}).get("instruction", "")).strip()
        why = "truncated" if res.finish_reason == "length" else None
        why = why or (g.filter.check(text) if text else None) or g.rouge_gate.precheck(text)
        if why is None:
            pool.append(Record({"instruction": text, "input": "", "output": ""}, {"technique": "self_instruct"}))
            g.rouge_gate.pool.add(text)
        lines.append((getattr(why, "reason", why) or "kept", text))
    wall = time.perf_counter() - t0
    print(json.dumps({"seeds": str(seeds), "form": form, "calls": n, "wall_s": round(wall, 1),
                      "kept": sum(w == "kept" for w, _ in lines), "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}))
    for why, text in lines:
        print(f"  [{why}] {text}")


async def main(seeds: str, n: str = "20") -> None:
    llm = build_llm([])
    try:
        for form in ("chat", "document"):
            await one_form(llm, Path(seeds), form, int(n))
    finally:
        await llm.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
