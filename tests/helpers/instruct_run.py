"""A small finished Self-Instruct run (scripted model) for the export tests."""
from __future__ import annotations

from pathlib import Path

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.engine import run_recipe
from synthloom.generators.self_instruct import CLF_NO, CLF_YES

SEEDS = Path(__file__).resolve().parents[2] / "examples" / "seeds.jsonl"
TASKS = [
    "Write a limerick about a cat who hates Mondays.",
    "Suggest five questions to ask at the end of a job interview.",
    "Summarize the plot of a heist movie in one sentence.",
    "Translate the greeting into Spanish and Italian for a postcard.",
    "Compare renting and buying a home for a young couple.",
    "Tell me whether the fruit is sweet or sour.",
    "Explain how a refrigerator keeps food cold.",
    "List the planets of the solar system in order from the sun.",
    "Decide if the headline is clickbait or not.",
    "Give a short pep talk to a nervous student before an exam.",
]


def make_run(out: Path, count: int = 16) -> Path:
    state = {"i": 0}

    def respond(req):
        if req.purpose == "self_instruct:instruction":
            t = TASKS[state["i"] % len(TASKS)]
            state["i"] += 1
            return {"instruction": t}
        if req.purpose == "self_instruct:classify":
            inst = req.messages[-1]["content"]
            return {"output_type": CLF_YES if ("whether" in inst or "Decide" in inst) else CLF_NO}
        inst = req.messages[-1]["content"]
        return {"instances": [{"input": "", "output": f"Answer one to: {inst}"},
                              {"input": "case two", "output": f"Answer two to: {inst}"}]}

    recipe = Recipe.model_validate({"name": "instruct-export-test", "count": count,
                                    "generate": {"technique": "self_instruct", "seeds": str(SEEDS), "signals": []},
                                    "engine": {"concurrency": 1}})
    run_recipe(recipe, output=out, llm=ScriptedLLM(respond))
    return out
