"""Function-calling records checked by running the tools: `technique: tools`.

Each slot is one record:

1. a scenario kind (balanced over `scenarios`): single (one call), parallel (two independent calls),
   multi_step (a call, its result, then a call that may use it), no_tool (no tool fits); and the tools
   it uses (balanced per tool);
2. a user request written for it (JSON `{"request"}`, few-shot from the recipe's examples);
3. the calls, decoded as `{"calls": [...]}` whose items are one of the tools' call schemas
   (`{name: const, arguments: <the tool's parameters>}`), so a constrained decoder (the bundled model)
   writes only well-formed calls; the model picks the tools from the request. Multi-step: the second call is
   decoded after the first one's result is shown. no_tool: the decoder may write no call, and must;
4. every call is checked (format), run (execution: the user's functions in a worker process with a time
   limit, or mock responses), and the calls are checked against the request (semantics: the scenario's
   tools, arguments found in the request or an earlier result);
5. a final answer written from the results, which must quote one of their values (semantics).

A record: `request`, `scenario`, `calls` ([{name, arguments, result, step}]), `answer`, `tools` (OpenAI
`tools` entries). The exports turn it into OpenAI `tool_calls`, Hermes/ChatML and ShareGPT tool turns.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config.tools import ToolsTechnique
from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..quality.rouge import rouge_l
from ..quality.tool_calls import answer_uses_results, appears, leaves, repeated_sentence, format_problem, invented_numbers, ungrounded_arguments
from ..records import Record, Rejection
from ._tool_runner import ToolOutcome, ToolRunner
from ._tool_prompts import _signature, call_text, calls_schema, plan_text, results_text
from ._tool_specs import read_tool_specs, resolve, server_grammar_risks
from .base import GenContext, Generator

REQUEST_SCHEMA = object_schema({"request": {"type": "string", "minLength": 8, "maxLength": 240}})
log = logging.getLogger(__name__)
ANSWER_STOPS = ("\n",)
COPY_ROUGE = 0.7  # a request this close to an example's (ROUGE-L F) is the example again, not a new record
# the optional judge (`judge: true`): two yes/no questions, a short reason first
JUDGE_SCHEMA = object_schema({"reason": {"type": "string", "maxLength": 200}, "calls_fit": {"enum": ["yes", "no"]},
                              "answer_fits": {"enum": ["yes", "no"]}})
# a chat template's own markup in a request or answer: the model went on writing the prompt's format (seen through
# an OpenAI-compatible server whose chat template a base model does not know: "<s>[INST]Calls: none ...")
MARKUP = re.compile(r"</?s>|\[/?INST\]|<\|[a-z_]{2,20}\|>|<(?:start|end)_of_turn>|</?(?:bos|eos)>")
CALLS_OF = {"single": (1, 1), "parallel": (2, 2), "multi_step": (1, 1), "no_tool": (0, 1)}


class ToolsGenerator(Generator):
    technique = "tools"

    def __init__(self, config: ToolsTechnique, base_dir: Path) -> None:
        self.config = config
        self.specs = read_tool_specs(config.tools, config.functions, base_dir)
        self.by_name = {s.name: s for s in self.specs}
        self.schemas = {s.name: s.parameters for s in self.specs}
        mock = config.mock
        if isinstance(mock, str):
            from ..userfiles import read_data

            mock = read_data(resolve(mock, base_dir), "mock responses file")
        unknown = sorted(set(mock) - set(self.by_name))
        if unknown:
            from ..errors import RecipeError

            raise RecipeError(f"generate.mock: {', '.join(unknown)}: no such tool (tools: {', '.join(self.by_name)})")
        module = resolve(config.functions, base_dir) if config.functions else None
        if module is not None and not module.is_file():
            from ..errors import InputFileError

            raise InputFileError(f"generate.functions: {module} not found; give a Python file of typed functions")
        if module is None and set(self.by_name) - set(mock):
            from ..errors import RecipeError

            missing = ", ".join(sorted(set(self.by_name) - set(mock)))
            raise RecipeError(f"generate: {missing}: no implementation; give `functions` (a Python file) or a "
                              "`mock` response for each tool")
        self.runner = ToolRunner(module, dict(mock), config.timeout_s)
        for s in self.specs:
            for risk in server_grammar_risks(s.parameters, f"{s.name}.parameters"):
                log.warning("tools: %s: llama-cpp-python's server cannot turn this into a grammar (it exits); "
                            "the in-process llamacpp backend and other servers can", risk)
        for ex in config.examples:
            for c in ex.calls:
                if c.name not in self.by_name:
                    from ..errors import RecipeError

                    raise RecipeError(f"generate.examples: call of {c.name!r}: no such tool "
                                      f"(tools: {', '.join(self.by_name)})")
        for pair in config.chains:
            for tool in pair:
                if tool not in self.by_name:
                    from ..errors import RecipeError

                    raise RecipeError(f"generate.chains: {tool}: no such tool (tools: {', '.join(self.by_name)})")
        for tool, params in config.values.items():
            if tool not in self.by_name:
                from ..errors import RecipeError

                raise RecipeError(f"generate.values.{tool}: no such tool (tools: {', '.join(self.by_name)})")
            known = (self.by_name[tool].parameters.get("properties") or {})
            for p in params:
                if p not in known:
                    from ..errors import RecipeError

                    raise RecipeError(f"generate.values.{tool}.{p}: {tool} has no parameter {p!r} "
                                      f"(it has: {', '.join(known) or 'none'})")
        tools_view = [{"name": s.name, "description": s.description, "arguments": _signature(s),
                       "signature": _signature(s)} for s in self.specs]
        self.request_prompt = load_prompt("tools_request_system")
        self.call_prompt = load_prompt("tools_call_system")
        self.answer_prompt = load_prompt("tools_answer_system")
        self.request_system = self.request_prompt.render(tools=tools_view, instruction=config.instruction)
        self.call_system = self.call_prompt.render(tools=tools_view)
        self.answer_system = self.answer_prompt.render()
        self._shown: list[dict[str, Any]] | None = None
        self.judge_prompts: tuple[Any, Any] | None = None
        self._shown_lock = asyncio.Lock()

    def describe(self) -> dict[str, Any]:
        return {"technique": self.technique,
                "templates": {p.name: p.hash for p in (self.request_prompt, self.call_prompt, self.answer_prompt)},
                "tools": [s.name for s in self.specs], "mocked": sorted(self.runner.mock),
                "scenarios": list(self.config.scenarios), "timeout_s": self.config.timeout_s,
                "checks": ["format", "execution", "semantics"],
                "semantics": {"grounded": self.config.grounded, "uses_results": self.config.uses_results,
                              **({"judge": True} if self.config.judge else {})}}

    async def examples(self) -> list[dict[str, Any]]:
        """The recipe's examples with their calls run (once), for the call and answer few-shots."""
        async with self._shown_lock:
            if self._shown is None:
                shown = []
                for ex in self.config.examples:
                    calls = []
                    for c in ex.calls:
                        out = await self.runner.acall(c.name, c.arguments)
                        calls.append({"name": c.name, "arguments": c.arguments,
                                      **({"result": out.result} if out.ok else {"error": out.error})})
                    shown.append({"request": ex.request, "calls": calls, "answer": ex.answer, "kind": ex.kind()})
                self._shown = shown
            return self._shown

    def plan_line(self, plan: str, calls: list[dict[str, Any]]) -> str:
        said = "; ".join(f"{n}: {self.by_name[n].description}" for n in dict.fromkeys(c["name"] for c in calls)
                         if self.by_name[n].description)
        return f"Calls: {plan}" + (f" ({said})" if said else "")

    def planned_arguments(self, slot: int, ctx: GenContext, kind: str, names: list[str]) -> list[dict[str, Any]]:
        """Argument values sampled from the recipe's `values` for the planned calls (not for a multi-step
        plan's second call, whose values come from the first result); parallel calls of one tool differ."""
        out: list[dict[str, Any]] = []
        rng = ctx.rng(slot, "values")
        for i, n in enumerate(names):
            given = {} if kind == "multi_step" and i == 1 else self.config.values.get(n, {})
            args = {p: rng.choice(vs) for p, vs in given.items() if vs}
            for _ in range(8):  # the same tool twice asks for two different things
                if args not in out or not args:
                    break
                args = {p: rng.choice(vs) for p, vs in given.items() if vs}
            out.append(args)
        return out

    def chains(self) -> list[tuple[str, str]]:
        """The multi-step pairs: the recipe's `chains`, else those of its multi_step examples, else any two tools."""
        pairs = [(a, b) for a, b in self.config.chains]
        pairs += [(e.calls[0].name, e.calls[1].name) for e in self.config.examples
                  if e.kind() == "multi_step" and len(e.calls) >= 2 and not self.config.chains]
        return list(dict.fromkeys(pairs))

    def pick(self, slot: int, ctx: GenContext, kind: str) -> list[str]:
        """The planned tools: one; one tool twice (parallel); a chain (multi_step); none."""
        names = [s.name for s in self.specs]
        if kind == "no_tool":
            return []
        if kind == "multi_step":
            chains = self.chains()
            if chains:
                return list(ctx.balanced(slot, "chain", chains))
            first = ctx.balanced(slot, "tool", names)
            others = [n for n in names if n != first] or [first]
            return [first, ctx.rng(slot, "second").choice(others)]
        first = ctx.balanced(slot, "tool", names)
        return [first] if kind == "single" else [first, first]

    def _req(self, system: str, shots: list[tuple[str, str]], user: str, schema: Any, seed: int, sampling: Any,
             purpose: str, stop: tuple[str, ...] = ()) -> GenerationRequest:
        msgs = [{"role": "system", "content": system}]
        for u, a in shots:
            msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        msgs.append({"role": "user", "content": user})
        return GenerationRequest(messages=tuple(msgs), json_schema=schema, seed=seed, temperature=sampling.temperature,
                                 top_p=sampling.top_p, max_tokens=sampling.max_tokens, stop=stop, purpose=purpose)

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        cfg = self.config
        kind = ctx.balanced(slot, "scenario", list(cfg.scenarios))
        names = self.pick(slot, ctx, kind)
        shown = await self.examples()
        meta: dict[str, Any] = {"technique": self.technique, "template": "tools_call_system",
                                "template_hash": self.request_prompt.hash + self.call_prompt.hash
                                + self.answer_prompt.hash, "slot": slot, "scenario": kind, "planned_tools": names}
        reject = (lambda stage, reason, detail, data=None:
                  [Rejection(stage=stage, reason=reason, detail=detail, data=data, meta=meta)])
        # 1. the request
        # the examples that use the planned tools go last, nearest the request a base model continues (in the
        # recipe's order every prompt would share its prefix and run faster, but parallel requests went from
        # 3 of 24 to 0 of 11 on the bundled model: docs/techniques/tools.md)
        ordered = sorted(shown, key=lambda e: (len({c["name"] for c in e["calls"]} & set(names)), e["kind"] == kind))
        # the plan is the reply's first field, fixed (`const`): the request is written right after it
        shots = []
        for e in ordered:
            plan = plan_text(e["kind"], [(c["name"], c["arguments"]) for c in e["calls"]])
            shots.append((self.plan_line(plan, e["calls"]), json.dumps({"calls": plan, "request": e["request"]},
                                                                       ensure_ascii=False)))
        planned = list(zip(names, self.planned_arguments(slot, ctx, kind, names)))
        if planned:
            meta["planned_arguments"] = [a for _, a in planned]
        plan = plan_text(kind, planned)
        schema = object_schema({"calls": {"const": plan}, **REQUEST_SCHEMA["properties"]})
        req = self._req(self.request_system, shots, self.plan_line(plan, [{"name": n} for n in names]), schema,
                        ctx.request_seed(slot, 0), cfg.sampling, "request")
        req = replace(req, avoid=tuple(e["request"] for e in shown))  # a base model copies its examples
        (res,) = await ctx.llm.generate([req])
        meta["model"] = res.model
        if not isinstance(res.parsed, dict) or not str(res.parsed.get("request", "")).strip():
            return reject("parse", "invalid_json" if res.finish_reason != "length" else "truncated",
                          f"request: {res.text[:160]!r}")
        request = " ".join(str(res.parsed["request"]).split())
        data: dict[str, Any] = {"request": request, "scenario": kind}
        markup = MARKUP.search(request)
        if markup:
            return reject("filter", "template_markup", f"the request holds chat-template markup {markup.group(0)!r}",
                          data)
        looped = repeated_sentence(request)
        if looped:
            return reject("filter", "repeated_text", f"the request says twice: {looped[:80]!r}", data)
        copied = self.copied(request, shown, planned)
        if copied:
            return reject("filter", "copied_example", copied, data)
        # 2. the calls (a second round for multi_step, after the first one's result)
        call_shots = [(e["request"], json.dumps({"calls": [{"name": c["name"], "arguments": c["arguments"]}
                                                           for c in e["calls"]]}, ensure_ascii=False))
                      for e in shown]
        # how a second step reads: the request, the first call and its result, then the next call
        step_shots = [(f"{e['request']}\nEarlier calls and results:\n{results_text(e['calls'][:1])}",
                       json.dumps({"calls": [{"name": c["name"], "arguments": c["arguments"]} for c in e["calls"][1:2]]},
                                  ensure_ascii=False)) for e in shown if len(e["calls"]) >= 2]
        calls: list[dict[str, Any]] = []
        rounds = 2 if kind == "multi_step" else 1
        for step in range(1, rounds + 1):
            lo, hi = CALLS_OF[kind]
            user = request if step == 1 else f"{request}\nEarlier calls and results:\n{results_text(calls)}"
            (res,) = await ctx.llm.generate([self._req(self.call_system, call_shots + step_shots * (step > 1), user,
                                                       calls_schema(self.specs, lo, hi), ctx.request_seed(slot, step),
                                                       cfg.call_sampling, "calls")])
            value = res.parsed
            if not isinstance(value, dict) or not isinstance(value.get("calls"), list):
                return reject("parse", "invalid_json" if res.finish_reason != "length" else "truncated",
                              f"calls (step {step}): {res.text[:160]!r}", {**data, "calls": calls})
            for c in value["calls"]:
                name, args = (c.get("name"), c.get("arguments")) if isinstance(c, dict) else (None, c)
                problem = format_problem(name, args, self.schemas)
                if problem:
                    return reject("format", problem[0], problem[1], {**data, "calls": [*calls, c]})
                out: ToolOutcome = await self.runner.acall(name, args)
                call = {"name": name, "arguments": args, "step": step}
                call.update({"result": out.result} if out.ok else {"error": out.error})
                calls.append(call)
                if not out.ok:
                    reason = "execution:timeout" if out.error.startswith("timeout") else "execution:tool_error"
                    return reject("execution", reason, f"{call_text(call)}: {out.error}", {**data, "calls": calls})
        data["calls"] = calls
        problem = self.semantics(kind, names, request, calls)
        if problem:
            return reject("semantics", problem[0], problem[1], data)
        # 3. the answer
        answer_shots = [(f"Request: {e['request']}\nResults:\n{results_text(e['calls'])}", e["answer"])
                        for e in shown if e["answer"]]
        (res,) = await ctx.llm.generate([self._req(
            self.answer_system, answer_shots, f"Request: {request}\nResults:\n{results_text(calls)}", None,
            ctx.request_seed(slot, 9), cfg.sampling, "answer", ANSWER_STOPS)])
        answer = " ".join((res.text or "").split())
        data["answer"] = answer
        if res.error_kind == "backend" or not answer or res.finish_reason == "length":
            why = "backend_error" if res.error_kind == "backend" else "empty" if not answer else "cut_off"
            return reject("semantics", f"semantics:answer_{why}", f"answer: {res.text[:160]!r}", data)
        if MARKUP.search(answer):
            return reject("semantics", "semantics:answer_markup", f"the answer holds chat-template markup "
                                                                 f"{MARKUP.search(answer).group(0)!r}", data)
        if rouge_l(request, answer) >= COPY_ROUGE or repeated_sentence(answer):
            return reject("semantics", "semantics:answer_echoes", f"the answer repeats the request or itself: "
                                                                 f"{answer[:120]!r}", data)
        if cfg.uses_results and calls and not answer_uses_results(answer, [c.get("result") for c in calls]):
            return reject("semantics", "semantics:answer_ignores_results",
                          f"no value of the results appears in the answer: {answer[:160]!r}", data)
        if cfg.uses_results:  # also without calls: a "no tool" answer states no number the user did not give
            invented = invented_numbers(answer, request, [c.get("result") for c in calls])
            if invented:
                return reject("semantics", "semantics:answer_invents_numbers",
                              f"{', '.join(invented[:3])} in the answer: in neither the request nor the results", data)
        if cfg.judge:
            verdict = await self.judge(request, calls, answer, ctx.model(cfg.judge_model), ctx.request_seed(slot, 10))
            meta["judge"] = verdict
            for key, reason in (("calls_fit", "semantics:judge_calls"), ("answer_fits", "semantics:judge_answer")):
                if verdict.get(key) == "no":
                    return reject("semantics", reason, f"the judge: {str(verdict.get('reason', ''))[:240]}", data)
            if "error" in verdict:
                return reject("semantics", "semantics:judge_no_verdict", verdict["error"], data)
        data["tools"] = [s.openai() for s in self.specs]
        meta["checks"] = {"format": "pass", "execution": "pass", "semantics": "pass"}
        return [Record(data=data, meta=meta)]

    async def judge(self, request: str, calls: list[dict[str, Any]], answer: str, llm: Any, seed: int) -> dict[str, Any]:
        """The judge's verdict on the record: {reason, calls_fit, answer_fits}, or {error} when unreadable."""
        if self.judge_prompts is None:
            self.judge_prompts = (load_prompt("tools_judge_system"), load_prompt("tools_judge_user"))
        system, user = self.judge_prompts
        tools = [{"name": s.name, "description": s.description} for s in self.specs]
        req = GenerationRequest(messages=({"role": "system", "content": system.render()},
                                          {"role": "user", "content": user.render(
                                              tools=tools, request=request, results=results_text(calls), answer=answer)}),
                                json_schema=JUDGE_SCHEMA, seed=seed, temperature=0.0, max_tokens=120, purpose="judge")
        (res,) = await llm.generate([req])
        value = res.parsed
        if not isinstance(value, dict) or any(value.get(k) not in ("yes", "no") for k in ("calls_fit", "answer_fits")):
            return {"error": f"no verdict in the judge's reply: {(res.text or str(res.error))[:120]!r}"}
        return {k: value.get(k) for k in ("reason", "calls_fit", "answer_fits")}

    @staticmethod
    def copied(request: str, shown: list[dict[str, Any]], planned: list[tuple[str, dict[str, Any]]]) -> str | None:
        """Why the request is an example again: close to one (ROUGE-L) without any planned value of its own.
        A request that keeps an example's wording around the planned values is a new record."""
        score, example = max(((rouge_l(e["request"], request), e["request"]) for e in shown), default=(0.0, ""))
        if score < COPY_ROUGE:
            return None
        values = [v for _, args in planned for v in leaves(args)]
        if any(appears(v, request) and not appears(v, example) for v in values):
            return None
        return f"ROUGE-L {score:.2f} with the example {example!r}, and none of the planned values"

    def semantics(self, kind: str, names: list[str], request: str, calls: list[dict[str, Any]]) -> tuple[str, str] | None:
        """The calls against the request: the scenario's tools, and arguments taken from the request."""
        got = [c["name"] for c in calls]
        seen = [json.dumps([c["name"], c["arguments"]], sort_keys=True) for c in calls]
        if len(set(seen)) < len(seen):
            return "semantics:repeated_call", f"the same call twice: {call_text(calls[seen.index(seen[-1])])}"
        if kind == "no_tool":
            return ("semantics:tool_fits", f"a 'no tool fits' request got a call: {call_text(calls[0])}") if calls \
                else None
        if sorted(got) != sorted(names):
            return "semantics:wrong_tool", f"the request was written for {', '.join(names)}; the calls use {', '.join(got)}"
        if self.config.grounded:
            for i, c in enumerate(calls):
                earlier = [json.dumps(e.get("result"), ensure_ascii=False) for e in calls[:i] if e["step"] < c["step"]]
                bad = ungrounded_arguments(c["arguments"], self.schemas[c["name"]], request, *earlier)
                if bad:
                    return ("semantics:ungrounded_arguments",
                            f"{c['name']}: {', '.join(bad)} not in the request{' or an earlier result' if earlier else ''}")
        return None

    def shown_records(self) -> tuple[Any, ...]:
        return tuple({"request": e.request, "calls": [c.model_dump() for c in e.calls], "answer": e.answer}
                     for e in self.config.examples)


def build(config: ToolsTechnique, base_dir: Path) -> ToolsGenerator:
    return ToolsGenerator(config, base_dir)
