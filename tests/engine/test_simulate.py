"""`synthloom simulate` with scripted models: a target on a loopback stub (one that never helps fails every
goal, one that helps reaches them), grading, resume from the store, the report."""
from __future__ import annotations

import json

from synthloom.config.conversation import Scenario
from synthloom.engine.simulate_run import Simulation, arun_simulate
from synthloom.export.simulate_report import write_report

from fakes import ScriptedLLM
from helpers.fake_openai import FakeOpenAI

SCENARIOS = [Scenario(goal="rent a city bike for Saturday morning", persona="a tourist", mood="cheerful",
                      expect=["saturday"]),
             Scenario(goal="find out whether a helmet is included in the price", persona="a parent", mood="careful"),
             Scenario(goal="learn the opening hours on Sunday", persona="a commuter", mood="in a hurry",
                      attributes={"channel": "app"})]
HELPFUL = {"bike": "Yes, a city bike is free on Saturday morning; I have reserved one for you from 9:00.",
           "helmet": "Yes, a helmet and a lock are included in the rental price at no extra cost.",
           "Sunday": "On Sunday the shop is open from 10:00 to 16:00."}


def satisfied_user():
    """A user that opens with its goal and says goal_met at its second message."""
    def respond(req):
        goal = req.messages[1]["content"].split("Your goal: ")[1].split(". Write")[0]
        if "status" not in req.json_schema.get("properties", {}):
            return {"message": f"Hello, I would like to {goal}."}
        return {"status": "goal_met", "message": "Great, thanks a lot!"}
    return ScriptedLLM(respond, identity="fake:user")


def target_server(reply):
    server = FakeOpenAI()

    def answer(body):
        text = reply(body["messages"])
        return (200, {"choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": text}}],
                      "usage": {"prompt_tokens": 5, "completion_tokens": 9}}, {})
    server.script = [answer] * 200
    return server


async def simulate(tmp_path, reply, n=6, server=None, **kw):
    """`n` conversations against a stub target answering `reply(messages)` (on `server` when given: the
    same URL, so the same target identity and run)."""
    own = server is None
    if own:
        server = await target_server(reply).start()
    from synthloom.config.models import OpenAIModel
    from synthloom.llm.openai_compat import OpenAICompatLLM

    target = OpenAICompatLLM(OpenAIModel(backend="openai", base_url=server.base_url, model="stub", api_key_env=None))
    user = satisfied_user()
    try:
        sim = Simulation(SCENARIOS, "You are the assistant of a bike rental shop.", (2, 4), seed=1, **kw)
        res = await arun_simulate(sim, n, target, user, store_path=tmp_path / "sim" / "store.sqlite")
    finally:
        await target.aclose()
        if own:
            await server.stop()
    return res, server, user


async def test_a_target_that_never_helps_fails_every_goal(tmp_path):
    res, server, _ = await simulate(tmp_path, lambda msgs: "I'm sorry, but I can't help with that request.")
    assert len(res.results) == 6
    assert not any(r["goal_reached"] for r in res.results)
    for r in res.results:
        assert r["went_wrong"]["turn"] == 2 and r["went_wrong"]["reason"] == "refusal"
        assert r["messages"][0]["role"] == "user" and r["messages"][1]["role"] == "assistant"
    # the target got its own system prompt first, and the user's message
    assert server.bodies[0]["messages"][0] == {"role": "system",
                                               "content": "You are the assistant of a bike rental shop."}


async def test_a_target_that_stalls_politely_fails_too(tmp_path):
    res, _, _ = await simulate(tmp_path, lambda msgs: "Please hold on for a moment while I check our systems.")
    assert not any(r["goal_reached"] for r in res.results)
    assert {r["went_wrong"]["reason"] for r in res.results} <= {"not_verified", "irrelevant"}


async def test_a_helpful_target_reaches_the_goals_and_the_report_counts_them(tmp_path):
    def helpful(msgs):
        last = msgs[-1]["content"]
        return next(v for k, v in HELPFUL.items() if k in last)
    res, _, _ = await simulate(tmp_path, helpful)
    assert all(r["goal_reached"] for r in res.results), [r["went_wrong"] for r in res.results]
    assert all(r["end_reason"] == "goal_met" and r["turns_used"] == 2 for r in res.results)
    report = write_report(res.results, tmp_path / "report", {"target": "stub", "user": "fake:user"})
    s = report["summary"]
    assert s["overall"] == {"conversations": 6, "goal_reached": 6, "goal_rate": 1.0, "ci95": s["overall"]["ci95"]}
    assert set(s["by_attribute"]) >= {"goal", "persona", "mood", "channel"}
    assert s["by_attribute"]["mood"]["cheerful"]["conversations"] == 2
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Goal reached in 6 of 6" in md and "## Goal rate by mood" in md and "## Conversations in full" in md
    rows = [json.loads(line) for line in (tmp_path / "report" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6


async def test_an_expected_phrase_is_required(tmp_path):
    # helpful but never says "saturday": the bike scenario is not reached, the others are
    def vague(msgs):
        last = msgs[-1]["content"]
        return ("Yes, a city bike is free then; I have reserved one for you from 9:00." if "bike" in last
                else next(v for k, v in HELPFUL.items() if k in last))
    res, _, _ = await simulate(tmp_path, vague, n=3)
    by_goal = {r["goal"]: r for r in res.results}
    assert not by_goal[SCENARIOS[0].goal]["goal_reached"]
    assert "expected phrase" in by_goal[SCENARIOS[0].goal]["went_wrong"]["detail"]
    assert by_goal[SCENARIOS[1].goal]["goal_reached"]


async def test_a_finished_run_replays_from_the_store(tmp_path):
    never = lambda msgs: "I'm sorry, I can't help with that."  # noqa: E731
    server = await target_server(never).start()
    try:
        first, _, _ = await simulate(tmp_path, never, n=3, server=server)
        sent = len(server.bodies)
        again, _, user2 = await simulate(tmp_path, never, n=3, server=server)
        assert again.resumed and again.results == first.results
        assert len(server.bodies) == sent and user2.requests == []
        # two more conversations: only those are held
        more, _, _ = await simulate(tmp_path, never, n=5, server=server)
        assert len(more.results) == 5 and more.results[:3] == first.results
        assert len(server.bodies) == sent + 2  # one target turn each: the refusal ends nothing, the user ends it
    finally:
        await server.stop()
