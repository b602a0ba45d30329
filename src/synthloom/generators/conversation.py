"""Multi-turn dialogues: `technique: conversation`.

Each slot is one conversation:

1. a scenario (balanced over the recipe's scenarios; each `attributes` axis balanced on its own) and a
   message limit sampled from `turns` (e.g. 2-8);
2. turn by turn, the simulated user (JSON: `status`, `message`; its own model with `user_model`) and the
   assistant (free text, the recipe's `system` prompt; its own model with `assistant_model`) each write
   one message in one call. The user sees the dialogue from its side: the assistant's turns are its
   inputs, its own turns its outputs;
3. every turn passes the judge-free checks of quality/turns.py (not empty, not cut off, readable, no
   role swap, no repeat, relevant to the turn before it); a rejected turn is written again with the same
   history, up to `tries` times, and each rejected try is kept as a `turn:<reason>` rejection;
4. the conversation ends when the user says its goal is met (`goal_met`) or gives up (`give_up`), heard
   from the low end of `turns` on (before it, the user's message goes on as a turn), when the limit is reached (`turn_limit`), or when a turn fails every try (`stuck`: kept when it holds
   at least one exchange, the open user turn dropped). It always ends on an assistant turn.

Every request's seed derives from (slot, turn, try), so a re-run after a crash replays the finished
turns from the call cache and goes on from the last accepted one.

A record: `messages` (the system prompt first when there is one, then user/assistant turns), `scenario`,
`end_reason`, `turns`. Lineage: the scenario, each turn's model and tries, the end reason, and with
`judge: true` the judge's verdict on the whole dialogue (an inconsistent one is rejected).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..config.conversation import ConversationTechnique, Scenario
from ..errors import InputFileError
from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest, GenerationResult
from ..prompts import load as load_prompt
from ..quality.turns import TurnChecker
from ..records import Record, Rejection
from .base import GenContext, Generator

STATUSES = ("continue", "goal_met", "give_up")
ENDS = ("goal_met", "give_up")
FIRST_SCHEMA = object_schema({"message": {"type": "string", "minLength": 2, "maxLength": 300}})
NEXT_SCHEMA = object_schema({"status": {"enum": list(STATUSES)},
                             "message": {"type": "string", "minLength": 2, "maxLength": 300}})
FIELDS = ("persona", "mood", "knowledge")
JUDGE_SCHEMA = object_schema({"reason": {"type": "string", "maxLength": 200}, "goal_reached": {"enum": ["yes", "no"]},
                              "consistent": {"enum": ["yes", "no"]}})
# a reply of one paragraph ends at its line break (a base model goes on with a list or the next speaker)
PARAGRAPH_STOPS = ("\n",)


def read_scenarios(value: list[Scenario] | str, base_dir: Path, where: str = "generate.scenarios") -> list[Scenario]:
    """The scenarios a recipe lists, or those of a YAML/JSON/JSONL file (a list, or {scenarios: [...]})."""
    if not isinstance(value, str):
        return list(value)
    from pydantic import ValidationError

    from ..userfiles import jsonl_values, read_data

    path = Path(value) if Path(value).is_absolute() else base_dir / value
    if not path.is_file():
        raise InputFileError(f"{where}: {path} not found; give a YAML/JSON/JSONL file of scenarios (a goal each)")
    if path.suffix.lower() == ".jsonl":
        items: Any = [v for _n, v in jsonl_values(path, "give one scenario object per line")]
    else:
        items = read_data(path, "scenario file")
        if isinstance(items, dict) and "scenarios" in items:
            items = items["scenarios"]
    if not isinstance(items, list) or not items:
        raise InputFileError(f"{path}: give a non-empty list of scenarios (each with a goal)")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Scenario.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise InputFileError(f"{path}: scenario {i + 1}: {loc}: {err['msg']}; a scenario has goal (required), "
                                 "persona, mood, knowledge, opening, expect, attributes") from None
    return out


def read_system(system: str, base_dir: Path, where: str = "generate.system") -> str:
    text = (system or "").strip()
    if text and "\n" not in text and len(text) < 300 and Path(text).suffix.lower() in (".md", ".txt"):
        path = Path(text) if Path(text).is_absolute() else base_dir / text
        if not path.is_file():
            raise InputFileError(f"{where}: {path} not found; give the system prompt's file or the text inline")
        text = path.read_text(encoding="utf-8").strip()
    return text


def sample_scenario(slot: int, ctx: GenContext, scenarios: Sequence[Scenario],
                    axes: dict[str, list[str]]) -> dict[str, Any]:
    """One conversation's scenario as a flat dict: goal, persona, mood, knowledge, opening, expect, and
    every attribute (the scenario's own, then the recipe's axes, balanced per axis)."""
    sc = ctx.balanced(slot, "scenario", list(scenarios))
    out: dict[str, Any] = {"goal": sc.goal, **{f: getattr(sc, f) for f in FIELDS}, "opening": sc.opening,
                           "expect": list(sc.expect), "attributes": dict(sc.attributes)}
    for axis, values in axes.items():
        value = ctx.balanced(slot, f"attr:{axis}", values)
        if axis in FIELDS:
            if not out[axis]:
                out[axis] = value
        else:
            out["attributes"].setdefault(axis, value)
    return out


def public_scenario(s: dict[str, Any]) -> dict[str, Any]:
    """What a record and a report show of a scenario (its empty fields and the verbatim opening left out)."""
    return {"goal": s["goal"], **{f: s[f] for f in FIELDS if s[f]}, **s["attributes"]}


def hotter(temperature: float, tries: int) -> float:
    """A retry is sampled hotter: a small model at one temperature writes the same rejected turn again."""
    return round(min(1.5, temperature + 0.15 * tries), 2)


def flipped(turns: Sequence[Any], start: str) -> list[dict[str, str]]:
    """A dialogue from the user's side: a start cue, then the assistant's turns as inputs and the user's own
    as outputs (JSON, as it writes them)."""
    msgs = [{"role": "user", "content": start}]
    for k, m in enumerate(turns):
        m = m if isinstance(m, dict) else m.model_dump()
        if m["role"] == "user":
            body = {"message": m["content"]} if k == 0 else {"status": "continue", "message": m["content"]}
            msgs.append({"role": "assistant", "content": json.dumps(body, ensure_ascii=False)})
        else:
            msgs.append({"role": "user", "content": m["content"]})
    return msgs


@dataclass
class Turn:
    role: str
    text: str
    model: str
    tries: int
    status: str = "continue"
    relevance: float | None = None


@dataclass
class UserSimulator:
    """The simulated user's requests and the reading of its replies; shared with `synthloom simulate`."""

    example: list[dict[str, str]] = field(default_factory=list)
    sampling: Any = None
    assistant_name: str = ""

    def __post_init__(self) -> None:
        self.system_prompt = load_prompt("conversation_user_system")
        self.start_prompt = load_prompt("conversation_user_start")

    @property
    def hash(self) -> str:
        return self.system_prompt.hash + self.start_prompt.hash

    def request(self, scenario: dict[str, Any], history: Sequence[dict[str, str]], seed: int,
                tries: int = 0) -> GenerationRequest:
        """The user's next turn after `history`; `tries`: the rejected tries before this one."""
        system = self.system_prompt.render(goal=scenario["goal"], **{f: scenario[f] for f in FIELDS},
                                           attributes=scenario["attributes"], assistant_name=self.assistant_name)
        # the dialogue from the user's side: the assistant speaks to it (input), it answers (output, JSON);
        # the example conversation goes first in the same shape, so a base model sees the turns it must write
        msgs: list[dict[str, str]] = [{"role": "system", "content": system}]
        shown = self.example[:-1] if self.example and self.example[-1]["role"] == "assistant" else self.example
        if shown:  # ends on the user's turn: the next input is the real conversation's start
            msgs += flipped(shown, self.start_prompt.render(goal=""))
        msgs += flipped(history, self.start_prompt.render(goal=scenario["goal"]))
        s = self.sampling
        return GenerationRequest(messages=tuple(msgs), json_schema=NEXT_SCHEMA if history else FIRST_SCHEMA,
                                 seed=seed, temperature=hotter(s.temperature if s else 0.8, tries),
                                 top_p=s.top_p if s else 0.95, max_tokens=s.max_tokens if s else 120, purpose="user")

    @staticmethod
    def read(res: GenerationResult) -> tuple[str, str, str | None]:
        """(status, message, problem) of a user turn's reply."""
        value = res.parsed
        if not isinstance(value, dict) or not isinstance(value.get("message"), str):
            if res.finish_reason == "length":
                return "continue", res.text or "", "cut_off"
            return "continue", res.text or "", "backend_error" if res.error_kind == "backend" else "invalid_json"
        status = value.get("status", "continue")
        return (status if status in STATUSES else "continue"), " ".join(value["message"].split()), None


class ConversationGenerator(Generator):
    technique = "conversation"

    def __init__(self, config: ConversationTechnique, base_dir: Path) -> None:
        self.config = config
        self.scenarios = read_scenarios(config.scenarios, base_dir)
        self.system_text = read_system(config.system, base_dir)
        self.lo, self.hi = config.turn_range()
        example = [t.model_dump() for t in config.examples[0]] if config.examples else []
        self.user = UserSimulator(example, config.user_sampling)
        self.assistant_prompt = load_prompt("conversation_assistant_system")
        self.example = example  # shown as earlier turns: a base model continues the shape it sees
        self.assistant_system = self.assistant_prompt.render(system=self.system_text)
        self.judge_prompts = None  # loaded when `judge` is on
        self.checker = TurnChecker(config.min_relevance, examples=[t.content for ex in config.examples for t in ex],
                                   min_goal_relevance=config.min_goal_relevance if config.min_relevance > -1 else -1)

    def describe(self) -> dict[str, Any]:
        return {"technique": self.technique,
                "templates": {p.name: p.hash for p in (self.user.system_prompt, self.user.start_prompt,
                                                       self.assistant_prompt)},
                "scenarios": len(self.scenarios), "attributes": self.config.attributes, "turns": [self.lo, self.hi],
                "tries": self.config.tries, "min_relevance": self.config.min_relevance,
                "min_goal_relevance": self.config.min_goal_relevance, "judge": self.config.judge,
                "checks": [c for c in ("empty", "cut_off", "unreadable", "role_swap", "repeated", "irrelevant")
                           if not (c == "unreadable" and "readable" in self.checker.off)
                           and not (c == "irrelevant" and self.checker.min_relevance <= -1)]}

    def use_checks(self, on: Sequence[str]) -> None:
        """The recipe's acceptance checks (quality/checks.py) switch the turn checks: `readable` (unreadable),
        `complete` (cut_off by the marks of a cut; a turn cut by max_tokens is always rejected), `relevant`
        (irrelevant: the turn's cosine with the one before it, the first turn's with the goal)."""
        self.checker.off = frozenset({"readable", "complete"} - set(on))
        if "relevant" not in on:
            self.checker.min_relevance = self.checker.min_goal_relevance = -1.0

    def assistant_request(self, history: Sequence[dict[str, str]], seed: int, tries: int = 0) -> GenerationRequest:
        s = self.config.sampling
        msgs = [{"role": "system", "content": self.assistant_system}, *self.example, *history]
        return GenerationRequest(messages=tuple(msgs), seed=seed, temperature=hotter(s.temperature, tries),
                                 top_p=s.top_p,
                                 max_tokens=s.max_tokens, stop=PARAGRAPH_STOPS if self.config.paragraph else (),
                                 purpose="assistant")

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        cfg = self.config
        scenario = sample_scenario(slot, ctx, self.scenarios, cfg.attributes)
        limit = ctx.rng(slot, "turns").randint(self.lo, self.hi)
        meta: dict[str, Any] = {"technique": self.technique, "template": "conversation_assistant_system",
                                "template_hash": self.user.hash + self.assistant_prompt.hash, "slot": slot,
                                "scenario": public_scenario(scenario), "turn_limit": limit}
        user_llm, assistant_llm = ctx.model(cfg.user_model), ctx.model(cfg.assistant_model)
        history: list[dict[str, str]] = []
        turns: list[Turn] = []
        rejected: list[Rejection] = []
        end, closing = "turn_limit", None
        for t in range(limit):
            role = "user" if t % 2 == 0 else "assistant"
            turn = await self.one_turn(slot, t, role, scenario, history, user_llm if role == "user" else assistant_llm,
                                       ctx, meta, rejected)
            if turn is None:
                end = "stuck"
                break
            if turn.status in ENDS:
                end, closing = turn.status, turn.text
                break
            turns.append(turn)
            history.append({"role": role, "content": turn.text})
        if history and history[-1]["role"] == "user":  # a conversation ends on a reply
            history.pop()
            turns.pop()
        meta.update(end_reason=end, turn_models=[t.model for t in turns], turn_tries=[t.tries for t in turns],
                    turn_relevance=[None if t.relevance is None else round(t.relevance, 3) for t in turns],
                    model=turns[-1].model if turns else None)
        if closing is not None:
            meta["closing"] = closing
        if len(history) < 2:
            last = rejected[-1].reason if rejected else "no_turns"
            return [*rejected, Rejection(stage="validate", reason=f"conversation:{end}",
                                         detail=f"no complete exchange (last turn rejection: {last})",
                                         data={"messages": history}, meta=meta)]
        messages = ([{"role": "system", "content": self.system_text}] if self.system_text else []) + history
        data = {"messages": messages, "scenario": public_scenario(scenario), "end_reason": end, "turns": len(history)}
        if cfg.judge:
            verdict = await self.judge(scenario["goal"], history, ctx.model(cfg.judge_model), ctx.request_seed(slot, 1))
            meta["judge"] = verdict
            if verdict.get("consistent") == "no":
                return [*rejected, Rejection(stage="judge", reason="conversation:inconsistent",
                                             detail=str(verdict.get("reason", ""))[:300], data=data, meta=meta)]
        return [*rejected, Record(data=data, meta=meta)]

    async def judge(self, goal: str, history: list[dict[str, str]], llm: Any, seed: int) -> dict[str, Any]:
        """The judge's verdict on the whole dialogue: {reason, goal_reached, consistent}, or {error} when unreadable."""
        if self.judge_prompts is None:
            self.judge_prompts = (load_prompt("conversation_judge_system"), load_prompt("conversation_judge_user"))
        system, user = self.judge_prompts
        req = GenerationRequest(messages=({"role": "system", "content": system.render()},
                                          {"role": "user", "content": user.render(goal=goal, system=self.system_text,
                                                                                  messages=history)}),
                                json_schema=JUDGE_SCHEMA, seed=seed, temperature=0.0, max_tokens=120, purpose="judge")
        (res,) = await llm.generate([req])
        value = res.parsed
        if not isinstance(value, dict) or value.get("consistent") not in ("yes", "no"):
            return {"error": f"no verdict in the judge's reply: {(res.text or str(res.error))[:120]!r}"}
        return {k: value.get(k) for k in ("reason", "goal_reached", "consistent")}

    async def one_turn(self, slot: int, t: int, role: str, scenario: dict[str, Any], history: list[dict[str, str]],
                       llm: Any, ctx: GenContext, meta: dict[str, Any], rejected: list[Rejection]) -> Turn | None:
        """The accepted turn `t`, written up to `tries` times with the same history; None when every try fails."""
        if role == "user" and t == 0 and scenario["opening"]:
            return Turn("user", scenario["opening"], "scenario", 0)
        for k in range(self.config.tries):
            seed = ctx.request_seed(slot, 1000 * (t + 1) + k)  # (slot, turn, try): a replay hits the cache
            if role == "user":
                (res,) = await llm.generate([self.user.request(scenario, history, seed, k)])
                status, text, problem = self.user.read(res)
                if problem is None and status in ENDS and t >= max(2, self.lo):  # not before the range's low end
                    return Turn(role, text, res.model, k + 1, status)
                status = "continue"
                problem_detail = (problem, f"the user's reply is not usable JSON: {res.text[:120]!r}") if problem \
                    else None
            else:
                (res,) = await llm.generate([self.assistant_request(history, seed, k)])
                status, text, problem_detail = "continue", (res.text or "").strip(), None
                if res.error_kind == "backend" or res.finish_reason == "error":
                    problem_detail = ("backend_error", str(res.error)[:200])
            rel = None
            if problem_detail is None:
                problem_detail, rel = self.checker.check(text, role, history, res.finish_reason,
                                                         goal=scenario["goal"])
            if problem_detail is None:
                return Turn(role, text, res.model, k + 1, status, rel)
            rejected.append(Rejection(stage="turn", reason=f"turn:{problem_detail[0]}",
                                      detail=f"turn {t + 1} ({role}), try {k + 1}: {problem_detail[1]}",
                                      data={"turn": t + 1, "role": role, "text": text}, raw=res.text,
                                      meta={**meta, "turn": t + 1, "role": role, "try": k + 1, "model": res.model}))
        return None


def build(config: ConversationTechnique, base_dir: Path) -> ConversationGenerator:
    return ConversationGenerator(config, base_dir)
