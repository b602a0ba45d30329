"""The tools technique's optional judge (`judge: true`) on the accepted records of a run: its verdicts, one per line
(docs/techniques/tools.md). The judge is the recipe's model (`judge_model` when set).

    synthloom run examples/tools.yaml -n 12 -o out/tools
    python benchmarks/tools_judge.py out/tools/data.jsonl [examples/tools.yaml]
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from synthloom.engine.recipe_file import load_recipe
from synthloom.generators import build_generator
from synthloom.llm.factory import build_backend, build_llm


async def main(data: str, recipe_path: str) -> None:
    recipe = load_recipe(Path(recipe_path), {})
    gen = build_generator(recipe.generate, Path(recipe_path).parent)
    if recipe.generate.judge_model is not None:
        llm = build_backend(recipe.generate.judge_model)
    else:
        llm = build_llm(recipe.model if isinstance(recipe.model, list) else [recipe.model])
    rows = [json.loads(line) for line in Path(data).read_text(encoding="utf-8").splitlines() if line.strip()]
    t = time.time()
    try:
        for i, d in enumerate(rows):
            v = await gen.judge(d["request"], d["calls"], d["answer"], llm, 1000 + i)
            print(i + 1, d["scenario"], "|", d["request"][:60], "|", d["answer"][:60], "->", json.dumps(v))
    finally:
        await llm.aclose()
    print(f"{len(rows)} verdicts in {time.time() - t:.0f} s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "examples/tools.yaml"))
