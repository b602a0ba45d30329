"""Self-Instruct (Wang et al. 2022): grow a pool of tasks from a few human-written seeds.

One slot is one pass of the paper's loop for one new task:

1. prompt with 8 tasks, shuffled: 6 seeds and 2 from the generated pool (more
   seeds while the pool is small), and the model writes task 9;
2. instruction filters: length, keyword blacklist, "Write a program",
   punctuation / non-ASCII start, a response cut off by the length limit, and
   ROUGE-L > 0.7 against the pool (checked here to skip the next calls for a sure
   loser, and again by `SelfInstructRougeGate` atomically with acceptance);
3. is it a classification task? (the model answers Yes/No from seed examples);
4. instances: output-first for classification tasks, input-first otherwise;
5. instance filters; each surviving instance is one record
   `{"instruction", "input", "output"}`, its lineage in `meta`.

Step 1 has two forms (`prompt_form`). `chat`: the tasks as turns, each a JSON object under a schema.
`document` (`auto` picks it when the writer is a base model, `llm.render.style_of`): the paper's own
prompt for a base GPT-3, a numbered list the model continues,

    Come up with a series of tasks:

    1. <task>
    ...
    8. <task>
    9.

raw text up to the newline (prompts/self_instruct_tasks_document.j2; no trailing space after "9.", the
model writes " <task>"). The bundled 270M base model writes more tasks a reader accepts this way than
under the JSON turns (docs/benchmarks_junk.md). The later steps ask for JSON with a schema, so a
constraining backend (the bundled base model) produces it by construction.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config.instruct import SelfInstructTechnique
from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import Problem, Record, Rejection, content_hash
from .base import GenContext, Generator
from .instruct_filters import Instance, InstructionFilter, SelfInstructRougeGate, filter_instances
from .instruct_seeds import SeedTask, load_seed_tasks
from .instruct_steps import ask_field, call_failure, description, slot_meta

INSTRUCTION_SCHEMA = object_schema({"instruction": {"type": "string", "minLength": 1, "maxLength": 1500}})
# Descriptive labels instead of Yes/No: the bundled 270M base model answers "Yes" to
# everything, but picks these correctly (6/6 on a held-out check).
CLF_YES, CLF_NO = "a label from a fixed list", "free text"
CLASSIFY_SCHEMA = object_schema({"output_type": {"type": "string", "enum": [CLF_YES, CLF_NO]}})
# built-in examples for the Yes/No question when the seeds lack one kind (from the paper's prompt)
CLASSIFY_FALLBACK = [
    ("Given my personality and the job, tell me if I would be suitable.", True),
    ("Give me an example of a time when you had to use your sense of humor.", False),
    ("Tell me if the following email is a promotion email or not.", True),
    ("Write a story about a dragon who learns to fly, in 100 words.", False),
]


def instances_schema(k: int, output_first: bool) -> dict[str, Any]:
    fields = ("output", "input") if output_first else ("input", "output")
    item = object_schema({f: {"type": "string", "maxLength": 2000} for f in fields})
    return object_schema({"instances": {"type": "array", "items": item, "minItems": 1, "maxItems": k}})


def _instances_json(pairs, output_first: bool) -> str:
    items = [({"output": o, "input": i} if output_first else {"input": i, "output": o}) for i, o in pairs]
    return json.dumps({"instances": items}, ensure_ascii=False)


class SelfInstructGenerator(Generator):
    technique = "self_instruct"

    def __init__(self, config: SelfInstructTechnique, base_dir: Path) -> None:
        self.config = config
        self.seeds: list[SeedTask] = load_seed_tasks(config.seeds, base_dir, need_output=True)
        self.filter = InstructionFilter(config.min_words, config.max_words, config.blacklist)
        self.rouge_gate = SelfInstructRougeGate([s.instruction for s in self.seeds], config.rouge_threshold)
        self._prompts = tuple(load_prompt(f"self_instruct_{name}") for name in (
            "tasks", "task_user", "classify", "classify_user", "input_first", "output_first", "instance_user",
            "tasks_document"))
        (self.p_tasks, self.p_task_user, self.p_classify, self.p_classify_user,
         self.p_input_first, self.p_output_first, self.p_instance_user, self.p_tasks_document) = self._prompts
        self._form: str | None = None  # "document" or "chat", resolved from the writer at the first slot
        clf = [s for s in self.seeds if s.is_classification]
        self._clf_seeds = clf
        self._gen_seeds = [s for s in self.seeds if not s.is_classification]

    def gates(self) -> list:
        """The quality signals in `signals`, then the pool check that must be atomic with acceptance.

        The engine adds them to the recipe's gates.
        """
        from ..quality.signals import technique_gates

        seeds = [(s.instruction + (f"\n\n{s.input}" if s.input.strip() else ""), "" if s.is_classification else s.output)
                 for s in self.seeds]
        return [*technique_gates(self.config.signals, seeds), self.rouge_gate]

    def describe(self) -> dict[str, Any]:
        c = self.config
        return description(self.technique, self._prompts, len(self.seeds), classification_seeds=len(self._clf_seeds),
                           settings={"rouge_threshold": c.rouge_threshold,
                                     "words": f"{c.min_words} < words <= {c.max_words}",
                                     "blacklist": c.blacklist, "instances_per_task": c.instances_per_task,
                                     "prompt_form": self._form or c.prompt_form,
                                     "tasks_per_prompt": f"{c.seed_tasks_per_prompt} seeds + "
                                                         f"{c.pool_tasks_per_prompt} generated"})

    # ----------------------------------------------------------------- step 1: a new instruction
    def _pool_tasks(self, ctx: GenContext) -> list[str]:
        seen: dict[str, None] = {}
        for rec in list(ctx.accepted):
            if rec.meta.get("technique") == self.technique and "instruction" in rec.data:
                seen.setdefault(rec.data["instruction"], None)
        return list(seen)

    def prompt_form(self, llm: Any) -> str:
        """`prompt_form` as the run uses it: `auto` is the document form when the writer is a base model."""
        if self._form is None:
            from ..llm.render import resolve_form

            self._form = resolve_form(self.config.prompt_form, llm)
        return self._form

    def task_prompt(self, slot: int, ctx: GenContext) -> tuple[list[str], GenerationRequest]:
        rng = ctx.rng(slot, "tasks")
        pool = self._pool_tasks(ctx)
        c = self.config
        total = c.seed_tasks_per_prompt + c.pool_tasks_per_prompt  # 6 + 2 = 8 in the paper
        shown = rng.sample(pool, min(c.pool_tasks_per_prompt, len(pool)))
        shown += [s.instruction for s in rng.sample(self.seeds, min(len(self.seeds), total - len(shown)))]
        rng.shuffle(shown)
        s = c.sampling
        if self.prompt_form(ctx.llm) == "document":
            tasks = [" ".join(t.split()) for t in shown]  # one line each: the list is read line by line
            prompt = self.p_tasks_document.render(tasks=tasks) + f"\n{len(tasks) + 1}."
            return shown, GenerationRequest(prompt=prompt, stop=("\n",), max_tokens=min(s.max_tokens, 256),
                                            temperature=s.temperature, top_p=s.top_p, seed=ctx.request_seed(slot, 0),
                                            avoid=tuple(" " + t for t in tasks), purpose="self_instruct:instruction")
        messages = [{"role": "system", "content": self.p_tasks.render()}]
        for i, inst in enumerate(shown, 1):
            messages.append({"role": "user", "content": self.p_task_user.render(number=i)})
            messages.append({"role": "assistant", "content": json.dumps({"instruction": inst}, ensure_ascii=False)})
        messages.append({"role": "user", "content": self.p_task_user.render(number=len(shown) + 1)})
        req = GenerationRequest(messages=tuple(messages), json_schema=INSTRUCTION_SCHEMA, max_tokens=min(s.max_tokens, 256),
                                temperature=s.temperature, top_p=s.top_p, seed=ctx.request_seed(slot, 0),
                                purpose="self_instruct:instruction")
        return shown, req

    # ----------------------------------------------------------------- step 2: classification?
    def classify_request(self, instruction: str, slot: int, ctx: GenContext) -> GenerationRequest:
        rng = ctx.rng(slot, "classify")
        yes = [(s.instruction, True) for s in self._clf_seeds] or [e for e in CLASSIFY_FALLBACK if e[1]]
        no = [(s.instruction, False) for s in self._gen_seeds] or [e for e in CLASSIFY_FALLBACK if not e[1]]
        shots = rng.sample(yes, min(5, len(yes))) + rng.sample(no, min(7, len(no)))
        rng.shuffle(shots)
        messages = [{"role": "system", "content": self.p_classify.render()}]
        for inst, flag in shots:
            messages.append({"role": "user", "content": self.p_classify_user.render(instruction=inst)})
            messages.append({"role": "assistant", "content": json.dumps({"output_type": CLF_YES if flag else CLF_NO})})
        messages.append({"role": "user", "content": self.p_classify_user.render(instruction=instruction)})
        return GenerationRequest(messages=tuple(messages), json_schema=CLASSIFY_SCHEMA, max_tokens=24,
                                 temperature=0.0, seed=ctx.request_seed(slot, 1), purpose="self_instruct:classify")

    # ----------------------------------------------------------------- step 3: instances
    def instance_request(self, instruction: str, output_first: bool, slot: int, ctx: GenContext) -> GenerationRequest:
        rng = ctx.rng(slot, "instances")
        pool = (self._clf_seeds if output_first else self._gen_seeds) or self.seeds
        shots = rng.sample(pool, min(4, len(pool)))
        system = (self.p_output_first if output_first else self.p_input_first).render()
        messages = [{"role": "system", "content": system}]
        k = self.config.instances_per_task
        for s in shots:
            messages.append({"role": "user", "content": self.p_instance_user.render(instruction=s.instruction)})
            messages.append({"role": "assistant", "content": _instances_json(s.instances[:k], output_first)})
        messages.append({"role": "user", "content": self.p_instance_user.render(instruction=instruction)})
        s = self.config.sampling
        return GenerationRequest(messages=tuple(messages), json_schema=instances_schema(k, output_first),
                                 max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p,
                                 seed=ctx.request_seed(slot, 2), purpose="self_instruct:instances")

    # ----------------------------------------------------------------- the slot
    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        shown, req = self.task_prompt(slot, ctx)
        document = req.prompt is not None
        meta = slot_meta(self.technique, (self.p_tasks_document if document else self.p_tasks).name, self._prompts,
                         req.seed, slot, prompt_tasks=len(shown), prompt_form="document" if document else "chat")
        if document:
            (res,) = await ctx.llm.generate([req])
            meta.setdefault("model", res.model)
            if res.finish_reason == "length" or res.error_kind == "backend":  # raw text: no JSON to check
                return [call_failure(res, "instruction", meta)]
            instruction = " ".join(res.text.split())
        else:
            asked = await ask_field(ctx, req, "instruction", "instruction", meta)
            if isinstance(asked, Rejection):
                return [asked]
            instruction, res = asked
        data = {"instruction": instruction}
        v: Problem | None = (
            self.filter.check(instruction) if instruction else Problem("length", "the instruction is empty")
        ) or self.rouge_gate.precheck(instruction)
        if v:
            return [v.rejection("filter", data=data, raw=res.text, meta=meta)]

        if self.config.classification == "model":
            (cres,) = await ctx.llm.generate([self.classify_request(instruction, slot, ctx)])
            is_clf = (cres.parsed_object or {}).get("output_type") == CLF_YES
        else:
            is_clf = False
        meta["is_classification"] = is_clf

        (ires,) = await ctx.llm.generate([self.instance_request(instruction, is_clf, slot, ctx)])
        fail = call_failure(ires, "instances", meta, data)
        if fail:
            return [fail]
        raw_items = ires.parsed_object.get("instances") or []
        instances = [Instance(str(i.get("input", "")).strip(), str(i.get("output", "")).strip())
                     for i in raw_items if isinstance(i, dict)]
        if not instances:
            return [Rejection(stage="filter", reason="empty_output", detail="no instances", data=data,
                              raw=ires.text, meta=meta)]
        kept, dropped = filter_instances(instances)
        task_id = content_hash([instruction, slot, ctx.seed], 8)
        meta["task_id"] = task_id
        out: list[Record | Rejection] = []
        for inst, why in dropped:
            out.append(why.rejection("filter", data={"instruction": instruction, "input": inst.input, "output": inst.output},
                                     meta=meta))
        for n, inst in enumerate(kept):
            out.append(Record(
                data={"instruction": instruction, "input": inst.input, "output": inst.output},
                meta={**meta, "instance": n},
            ))
        return out


def build(config: SelfInstructTechnique, base_dir: Path) -> SelfInstructGenerator:
    return SelfInstructGenerator(config, base_dir)
