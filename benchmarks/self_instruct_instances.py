"""Self-Instruct's instance step, JSON turns (as shipped) against a "Task: / Input: / Output:" document a base model
continues (a prototype, not shipped), on the first 10 tasks read good in benchmarks/data/self_instruct_read.jsonl:

    flock /tmp/synthloom-model.lock .venv/bin/python benchmarks/self_instruct_instances.py
"""
import asyncio
import json
import os
import time
from pathlib import Path
from synthloom.config.instruct import SelfInstructTechnique
from synthloom.generators.base import GenContext
from synthloom.generators.self_instruct import build
from synthloom.llm.factory import build_llm
from synthloom.llm.types import GenerationRequest

SEEDS = Path(__file__).resolve().parents[1] / "examples" / "seeds.jsonl"
rows = [json.loads(l) for l in open(Path(__file__).resolve().parent / "data" / "self_instruct_read.jsonl")]
tasks = [r["instruction"] for r in rows if r["read"] == "good" and r["form"] == "document" and "seeds.jsonl" in r["seeds"] and "sewing" not in r["seeds"]][:10]

def doc_prompt(g, slot, ctx, instruction):
    rng = ctx.rng(slot, "instances")
    shots = rng.sample(g._gen_seeds, 4)
    parts = ["Come up with examples for the following tasks.\n"]
    for s in shots:
        i, o = s.instances[0]
        parts.append(f"Task: {' '.join(s.instruction.split())}\n" + (f"Input: {i}\n" if i.strip() else "") + f"Output: {o}\n")
    return "\n".join(parts) + f"\nTask: {instruction}\nInput:"

async def main():
    g = build(SelfInstructTechnique(seeds=str(SEEDS), instances_per_task=1, sampling={"max_tokens": 200}), SEEDS.parent)
    llm = build_llm([])
    ctx = GenContext(llm=llm, seed=0, accepted=[])
    for form in ("chat", "document"):
        t0 = time.perf_counter(); load = os.getloadavg()[0]
        for slot, t in enumerate(tasks):
            if form == "chat":
                (r,) = await llm.generate([g.instance_request(t, False, slot, ctx)])
                inst = (r.parsed_object or {}).get("instances") or [{}]
                print(form, "|", t, "\n   IN:", repr(inst[0].get("input")), "\n   OUT:", repr(inst[0].get("output")))
            else:
                p = doc_prompt(g, slot, ctx, t)
                if slot == 0: print(p)
                (r,) = await llm.generate([GenerationRequest(prompt=p, stop=("\nTask:", "\n\n\n"), max_tokens=200, temperature=0.8, seed=ctx.request_seed(slot, 2))])
                txt = r.text
                inp, _, out = txt.partition("\nOutput:")
                if not _:
                    out, inp = inp.removeprefix(" Output:"), ""
                print(form, r.finish_reason, "|", t, "\n   IN:", repr(inp.strip()), "\n   OUT:", repr(out.strip()))
        print(form, "wall", round(time.perf_counter() - t0, 1), "load", load)
    await llm.aclose()
asyncio.run(main())
