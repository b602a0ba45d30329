"""Simulated users against a target chat endpoint: `synthloom simulate`.

Each conversation takes a scenario (balanced over the scenarios, as `technique: conversation` does) and a
message limit sampled from `turns`. The simulated user (generators/conversation.py's `UserSimulator`, on
its own model) writes, the target (any OpenAI-compatible endpoint, with its own system prompt) answers,
until the user says its goal is met or gives up, or the limit is reached.

The simulated user's turns are checked as the technique checks them and written again on a rejection.
The target's turns are never rewritten: each is flagged when it fails a check (`refusal`, `repeated`,
`irrelevant`, `role_swap`, `empty`, `cut_off`, `unreadable`, `looping`). A conversation is graded:

    goal_reached  the user said goal_met, the reply it answered was not flagged, some reply of the target
                  is about the goal (MiniLM cosine with the goal at least `min_goal_relevance`) and, when the
                  scenario lists `expect` phrases, some reply holds one of them
    went_wrong    the first flagged target turn; else, for a conversation that failed, the target's last
                  turn (the user gave up after it, or the limit came)

Every call goes through the call cache of the run store and each conversation is committed as one slot
of a run (its id: the scenarios, the target, the system prompt, the user's model, turns and seed), so an
interrupted run resumes where it stopped (the finished turns of an open conversation replayed from the
cache) and a finished one replays at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..config.conversation import Scenario
from ..generators.base import GenContext
from ..generators.conversation import ENDS, UserSimulator, public_scenario, sample_scenario
from ..llm.types import GenerationRequest
from ..quality.canned import find_refusal
from ..quality.turns import TurnChecker
from .target_run import TargetRun


@dataclass
class SimulateResult:
    run_id: str
    store_path: Path
    results: list[dict[str, Any]]
    calls: int
    cache_hits: int
    resumed: bool


@dataclass
class Simulation:
    """What every conversation of a run shares."""

    scenarios: Sequence[Scenario]
    system_prompt: str | None = None
    turns: tuple[int, int] = (4, 8)
    seed: int = 0
    tries: int = 3
    max_tokens: int = 256
    min_relevance: float = 0.1
    min_goal_relevance: float = 0.3  # helpful replies measured 0.59-0.78 with their goal, a stall 0.04-0.13
    attributes: dict[str, list[str]] | None = None
    example: list[dict[str, str]] | None = None


async def arun_simulate(sim: Simulation, count: int, target: Any, user_llm: Any, *, store_path: Path,
                        concurrency: int = 1, checker: TurnChecker | None = None,
                        on_progress: Callable[[int, int], None] | None = None) -> SimulateResult:
    """Hold `count` conversations, grade and store each; one result row per conversation, in order."""
    user = UserSimulator(list(sim.example or []))
    ident = {"kind": "simulate", "target": target.identity, "user": user_llm.identity,
             "system_prompt": sim.system_prompt, "turns": list(sim.turns), "seed": sim.seed, "tries": sim.tries,
             "max_tokens": sim.max_tokens, "min_relevance": sim.min_relevance,
             "min_goal_relevance": sim.min_goal_relevance, "attributes": sim.attributes or {},
             "example": sim.example or [], "template": user.hash,
             "scenarios": [s.model_dump(mode="json") for s in sim.scenarios]}
    settings = {k: v for k, v in ident.items() if k != "scenarios"} | {"scenarios": len(sim.scenarios),
                                                                       "conversations": count}
    run = TargetRun(store_path, "simulate", "sim-", ident, settings, target, user_llm)
    tgt, usr = run.llms
    ctx = GenContext(llm=usr, seed=sim.seed)
    # the simulated user's turns may not copy the example conversation; the target's are not held to that
    checker = checker or TurnChecker(sim.min_relevance, min_goal_relevance=min(sim.min_relevance, sim.min_goal_relevance)
                                     if sim.min_relevance > -1 else -1)
    user_checker = checker.with_examples([t["content"] for t in sim.example or []])

    async def one(i: int) -> dict[str, Any]:
        return await converse(i, sim, ctx, user, usr, tgt, checker, user_checker)

    rows = await run.slots(range(count), count, concurrency, one, on_progress)
    return SimulateResult(run.run_id, store_path, rows, run.meter.calls, run.meter.cache_hits, run.resumed)


async def converse(i: int, sim: Simulation, ctx: GenContext, user: UserSimulator, user_llm: Any, target: Any,
                   checker: TurnChecker, user_checker: TurnChecker | None = None) -> dict[str, Any]:
    """One conversation, graded."""
    scenario = sample_scenario(i, ctx, sim.scenarios, sim.attributes or {})
    lo, hi = sim.turns
    limit = ctx.rng(i, "turns").randint(lo, hi)
    history: list[dict[str, str]] = []
    flags: list[dict[str, Any]] = []
    user_rejections: list[dict[str, Any]] = []
    end, closing, error = "turn_limit", None, None
    best_on_goal: float | None = None  # the highest cosine of an unflagged reply with the goal
    for t in range(limit):
        if t % 2 == 0:
            turn = await user_turn(i, t, scenario, history, ctx, user, user_llm, user_checker or checker, sim,
                                   user_rejections)
            if turn is None:
                end = "user_stuck"
                break
            status, text = turn
            if status in ENDS:
                end, closing = status, text
                break
            history.append({"role": "user", "content": text})
            continue
        messages = ([{"role": "system", "content": sim.system_prompt}] if sim.system_prompt else []) + history
        req = GenerationRequest(messages=tuple(messages), max_tokens=sim.max_tokens, temperature=0.0,
                                seed=ctx.request_seed(i, 1000 * (t + 1)), purpose="target")
        (res,) = await target.generate([req])
        if not res.ok:
            end, error = "target_error", str(res.error)[:300]
            break
        text = (res.text or "").strip()
        flag = target_flag(text, history, res.finish_reason, checker)
        if flag:
            flags.append({"turn": t + 1, "reason": flag[0], "detail": flag[1]})
        else:
            on_goal = checker.relevance(text, scenario["goal"])
            if on_goal is not None:
                best_on_goal = on_goal if best_on_goal is None else max(best_on_goal, on_goal)
        history.append({"role": "assistant", "content": text})
    if history and history[-1]["role"] == "user":  # the limit came after a user turn: it had no reply
        history.pop()
    row = grade(i, scenario, history, end, closing, flags, user_rejections, error,
                best_on_goal is None or best_on_goal >= sim.min_goal_relevance)
    row["goal_relevance"] = None if best_on_goal is None else round(best_on_goal, 3)
    return row


async def user_turn(i: int, t: int, scenario: dict[str, Any], history: list[dict[str, str]], ctx: GenContext,
                    user: UserSimulator, llm: Any, checker: TurnChecker, sim: Simulation,
                    rejections: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(status, message) of the simulated user's turn `t`, or None when every try is rejected."""
    if t == 0 and scenario["opening"]:
        return "continue", scenario["opening"]
    for k in range(sim.tries):
        (res,) = await llm.generate([user.request(scenario, history, ctx.request_seed(i, 1000 * (t + 1) + k), k)])
        status, text, problem = user.read(res)
        if problem is None and status in ENDS and t >= max(2, sim.turns[0]):
            return status, text
        detail = (problem, f"not usable JSON: {res.text[:100]!r}") if problem else None
        if detail is None:
            detail, _ = checker.check(text, "user", history, res.finish_reason, goal=scenario["goal"])
        if detail is None:
            return "continue", text
        rejections.append({"turn": t + 1, "try": k + 1, "reason": detail[0], "detail": detail[1]})
    return None


def target_flag(text: str, history: Sequence[dict[str, str]], finish_reason: str | None,
                checker: TurnChecker) -> tuple[str, str] | None:
    refusal = find_refusal(text)
    if refusal:
        return "refusal", f"reads like a refusal: {refusal!r}"
    problem, _ = checker.check(text, "assistant", history, finish_reason)
    return problem


def grade(i: int, scenario: dict[str, Any], history: list[dict[str, str]], end: str, closing: str | None,
          flags: list[dict[str, Any]], user_rejections: list[dict[str, Any]], error: str | None,
          on_goal: bool = True) -> dict[str, Any]:
    replies = [(k + 1, m["content"]) for k, m in enumerate(history) if m["role"] == "assistant"]
    expect = [e.lower() for e in scenario["expect"]]
    expected_seen = not expect or any(e in text.lower() for _k, text in replies for e in expect)
    last_flagged = bool(replies) and any(f["turn"] == replies[-1][0] for f in flags)
    reached = end == "goal_met" and bool(replies) and not last_flagged and expected_seen and on_goal
    why = None
    if end == "goal_met" and not reached:
        why = ("the user said its goal was met, but " +
               ("the reply it answered was flagged" if last_flagged else
                "no unflagged reply is about the goal" if not on_goal else
                "no reply holds an expected phrase (" + ", ".join(scenario["expect"]) + ")"))
    went_wrong = None
    if flags:
        went_wrong = dict(flags[0])
    elif not reached and replies:
        went_wrong = {"turn": replies[-1][0], "reason": why and "not_verified" or end,
                      "detail": why or {"give_up": "the user gave up after this reply",
                                        "turn_limit": "the turn limit came after this reply"}.get(end, end)}
    elif not replies:
        went_wrong = {"turn": 1, "reason": end, "detail": error or "the target never answered"}
    if went_wrong is not None and went_wrong["turn"] <= len(history):
        went_wrong["text"] = history[went_wrong["turn"] - 1]["content"][:300]
    sc = public_scenario(scenario)
    return {"conversation": i, "scenario": sc, "goal": scenario["goal"], "goal_reached": reached,
            "end_reason": end, "turns_used": len(history), "went_wrong": went_wrong, "flags": flags,
            "user_rejections": user_rejections, "closing": closing, "error": error,
            "messages": history}
