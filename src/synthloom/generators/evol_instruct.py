"""Evol-Instruct (Xu et al. 2023, WizardLM): make instructions harder, round by round.

The pool starts with the seed instructions (round 0). One slot evolves one
pool instruction through one round:

1. pick a parent among the seeds and the accepted evolutions whose round is
   below `rounds` (M), and one operation (in-depth: add constraints, deepen,
   concretize, increase reasoning steps, complicate the input; in-breadth: a new
   instruction of the same domain and difficulty);
2. rewrite it with the WizardLM evolving prompt for that operation;
3. eliminate failed evolutions, each with its reason: copies the template's
   phrases, no information gain over the parent (the model as judge, or a
   near-duplicate test), a refusal response ("sorry" in < 80 words), a response
   of only punctuation and stop words, a response cut off by the length limit;
4. answer the evolved instruction (a second call) and return the pair
   `{"instruction", "output"}` with lineage in `meta`: `parent_id`, `parent`,
   `round`, `operation`, `root_id`.

A failed evolution leaves its parent in the pool, where a later slot can evolve
it again ("failed instructions go back to the pool"). An accepted record's
`Record.id` is what its children name as `parent_id`; seeds are `seed-N` (or
their own `id`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.instruct import EvolInstructTechnique
from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import Problem, Record, Rejection
from .base import GenContext, Generator
from .instruct_filters import copies_template, evol_response_checks, judge_says_equal, no_information_gain
from .instruct_seeds import load_seed_tasks
from .instruct_steps import ask_field, description, slot_meta

EVOLVED_SCHEMA = object_schema({"instruction": {"type": "string", "minLength": 1, "maxLength": 2500}})
RESPONSE_SCHEMA = object_schema({"output": {"type": "string", "minLength": 1}})
JUDGE_SCHEMA = object_schema({"judgement": {"type": "string", "enum": ["Equal", "Not Equal"]}})

# One worked example per operation: a small model learns the move from it.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "add_constraints": [
        ("Write a poem about the sea.",
         "Write a poem about the sea in exactly four rhyming lines, and mention a lighthouse."),
        ("List some healthy breakfast ideas.",
         "List five healthy breakfast ideas that take under ten minutes and contain no dairy."),
    ],
    "deepen": [
        ("Why do leaves change color in autumn?",
         "Why do leaves change color in autumn, and how do temperature, daylight and pigments like chlorophyll and carotenoids each play a part?"),
    ],
    "concretize": [
        ("Give advice on saving money.",
         "Give a university student living in a shared flat three ways to spend less on groceries each week."),
    ],
    "increase_reasoning": [
        ("What is 15% of 80?",
         "A jacket costs 80 dollars. It is discounted by 15%, then an 8% sales tax is added. Work out the final price step by step."),
    ],
    "complicate_input": [
        ("Find the most expensive item.",
         "Find the most expensive item in this table and say how much more it costs than the cheapest:\n| item | price |\n| pen | 2.50 |\n| notebook | 4.00 |\n| backpack | 35.00 |"),
    ],
    "breadth": [
        ("Write a poem about the sea.",
         "Write a short song a lighthouse keeper might sing to pass a stormy night."),
        ("Explain how a bicycle's gears work.",
         "Explain how a sailboat can move against the wind."),
    ],
}


@dataclass(frozen=True)
class PoolItem:
    id: str
    instruction: str
    round: int
    root_id: str


class EvolInstructGenerator(Generator):
    technique = "evol_instruct"

    def __init__(self, config: EvolInstructTechnique, base_dir: Path) -> None:
        self.config = config
        seeds = load_seed_tasks(config.seeds, base_dir, need_output=False)
        self.seeds = [
            PoolItem(s.id, s.instruction + (f"\n\n{s.input}" if s.input.strip() else ""), 0, s.id) for s in seeds
        ]
        self._response_shots = [(p.instruction, s.output) for p, s in zip(self.seeds, seeds) if s.output.strip()]
        self._prompts = tuple(map(load_prompt, ("evol_depth", "evol_breadth", "evol_user", "evol_equal_judge",
                                                "evol_equal_judge_user", "evol_response")))
        self.p_depth, self.p_breadth, self.p_user, self.p_judge, self.p_judge_user, self.p_response = self._prompts

    def gates(self) -> list:
        """The quality signals in `signals` (form, completeness, relevance, fluency), relevance calibrated on the seeds."""
        from ..quality.signals import technique_gates

        return technique_gates(self.config.signals, [p.instruction for p in self.seeds] + self._response_shots)

    def describe(self) -> dict[str, Any]:
        c = self.config
        return description(self.technique, self._prompts, len(self.seeds),
                           settings={"rounds": c.rounds, "operations": c.operations,
                                     "information_gain": c.information_gain,
                                     "near_duplicate_threshold": c.near_duplicate_threshold,
                                     "refusal_max_words": c.refusal_max_words})

    # ----------------------------------------------------------------- choosing what to evolve
    def pool(self, ctx: GenContext) -> list[PoolItem]:
        items = list(self.seeds)
        for rec in list(ctx.accepted):
            m = rec.meta
            if m.get("technique") == self.technique and int(m.get("round", 0)) < self.config.rounds:
                items.append(PoolItem(rec.id, rec.data.get("instruction", ""), int(m["round"]),
                                      m.get("root_id", m.get("parent_id", ""))))
        return items

    def evolve_request(self, parent: PoolItem, op: str, slot: int, ctx: GenContext) -> GenerationRequest:
        system = (self.p_breadth if op == "breadth" else self.p_depth).render(operation=op)
        messages = [{"role": "system", "content": system}]
        for before, after in EXAMPLES.get(op, []):
            messages.append({"role": "user", "content": self.p_user.render(operation=op, instruction=before)})
            messages.append({"role": "assistant", "content": json.dumps({"instruction": after}, ensure_ascii=False)})
        messages.append({"role": "user", "content": self.p_user.render(operation=op, instruction=parent.instruction)})
        s = self.config.sampling
        return GenerationRequest(messages=tuple(messages), json_schema=EVOLVED_SCHEMA, max_tokens=min(s.max_tokens, 384),
                                 temperature=s.temperature, top_p=s.top_p, seed=ctx.request_seed(slot, 0),
                                 purpose="evol_instruct:evolve")

    def judge_request(self, parent: str, evolved: str, slot: int, ctx: GenContext) -> GenerationRequest:
        messages = [
            {"role": "system", "content": self.p_judge.render()},
            {"role": "user", "content": self.p_judge_user.render(first=parent, second=evolved)},
        ]
        return GenerationRequest(messages=tuple(messages), json_schema=JUDGE_SCHEMA, max_tokens=16, temperature=0.0,
                                 seed=ctx.request_seed(slot, 1), purpose="evol_instruct:judge")

    def response_request(self, instruction: str, slot: int, ctx: GenContext) -> GenerationRequest:
        rng = ctx.rng(slot, "response")
        shots = rng.sample(self._response_shots, min(3, len(self._response_shots)))
        messages = [{"role": "system", "content": self.p_response.render()}]
        for inst, out in shots:
            messages.append({"role": "user", "content": inst})
            messages.append({"role": "assistant", "content": json.dumps({"output": out}, ensure_ascii=False)})
        messages.append({"role": "user", "content": instruction})
        s = self.config.sampling
        return GenerationRequest(messages=tuple(messages), json_schema=RESPONSE_SCHEMA,
                                 max_tokens=self.config.response_max_tokens, temperature=s.temperature, top_p=s.top_p,
                                 seed=ctx.request_seed(slot, 2), purpose="evol_instruct:response")

    # ----------------------------------------------------------------- the slot
    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        rng = ctx.rng(slot, "evol")
        pool = self.pool(ctx)
        parent = rng.choice(pool)
        op = rng.choice(self.config.operations)
        req = self.evolve_request(parent, op, slot, ctx)
        template = (self.p_breadth if op == "breadth" else self.p_depth).name
        meta = slot_meta(self.technique, template, self._prompts, req.seed, slot, parent_id=parent.id,
                         parent=parent.instruction, root_id=parent.root_id, round=parent.round + 1, operation=op)
        asked = await ask_field(ctx, req, "instruction", "evolved instruction", meta)
        if isinstance(asked, Rejection):
            return [asked]
        evolved, res = asked
        data = {"instruction": evolved}
        v: Problem | None = copies_template(evolved) if evolved else Problem("no_information_gain", "empty evolution")
        if v is None:
            if self.config.information_gain == "judge":
                (jres,) = await ctx.llm.generate([self.judge_request(parent.instruction, evolved, slot, ctx)])
                answer = (jres.parsed_object or {}).get("judgement")
                meta["judge"] = answer
                v = judge_says_equal(answer)
            else:
                v = no_information_gain(parent.instruction, evolved, self.config.near_duplicate_threshold)
        if v:
            return [v.rejection("filter", data=data, raw=res.text, meta=meta)]

        asked = await ask_field(ctx, self.response_request(evolved, slot, ctx), "output", "response", meta, data)
        if isinstance(asked, Rejection):
            return [asked]
        output, rres = asked
        data = {"instruction": evolved, "output": output}
        v = evol_response_checks(output, self.config.refusal_max_words)
        if v:
            return [v.rejection("filter", data=data, raw=rres.text, meta=meta)]
        return [Record(data=data, meta=meta)]


def build(config: EvolInstructTechnique, base_dir: Path) -> EvolInstructGenerator:
    return EvolInstructGenerator(config, base_dir)
