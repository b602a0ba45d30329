"""Multi-turn dialogues (`technique: conversation`) with scripted models: turns, checks, retries in place,
end reasons, lineage, resume and the chat exports."""
from __future__ import annotations

import json

import pytest

from synthloom import RunStore, run_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import RecipeError
from synthloom.export.chat import convert
from synthloom.quality.turns import role_swap, turn_problem

from fakes import ScriptedLLM

SYSTEM = "You are the help desk of a bike rental shop. Be brief."
SCENARIOS = [{"goal": "rent a bike for Saturday", "persona": "a tourist", "mood": "calm"},
             {"goal": "return a bike late without a fee", "persona": "a student"}]
USER = ["Hi, I would like to rent a bike for Saturday morning.", "Great, is a helmet included in the price?",
        "Perfect, and can I pay by card at the counter?", "Do you open at nine on weekends?"]
ASSISTANT = ["Sure, we have city bikes for Saturday; how many hours do you need?",
             "Yes, every rental includes a helmet and a lock at no extra cost.",
             "Yes, we take all major cards at the counter.", "We open at eight on Saturdays and Sundays."]


def recipe(count=2, **gen):
    g = {"technique": "conversation", "system": SYSTEM, "scenarios": SCENARIOS, "turns": "4-6",
         "min_relevance": -1, **gen}
    return recipe_from_dict({"name": "conv", "count": count, "generate": g, "quality": [],
                             "engine": {"concurrency": 1, "seed": 2}}, "test")


def scripted(end_at=None, bad_assistant=None):
    """A user that goes through USER (status goal_met from its `end_at`th message on) and an assistant
    that goes through ASSISTANT; `bad_assistant(n)` -> a text to send instead on the n-th assistant call."""
    calls = {"user": 0, "assistant": 0}

    def respond(req):
        if req.purpose == "user":
            n = sum(1 for m in req.messages if m["role"] == "assistant")  # the user's own turns so far
            calls["user"] += 1
            if req.json_schema.get("properties", {}).get("status") is None:
                return {"message": USER[0]}
            status = "goal_met" if end_at is not None and n >= end_at else "continue"
            return {"status": status, "message": USER[n % len(USER)]}
        calls["assistant"] += 1
        n = sum(1 for m in req.messages if m["role"] == "assistant")
        if bad_assistant:
            bad = bad_assistant(calls["assistant"])
            if bad:
                return bad
        return ASSISTANT[n % len(ASSISTANT)]
    return ScriptedLLM(respond), calls


def run(tmp_path, rec, llm, out="out"):
    return run_recipe(rec, base_dir=tmp_path, output=tmp_path / out, llm=llm)


def stored(summary):
    with RunStore(summary.run_dir / "store.sqlite") as s:
        return s.accepted_records(), list(s.rejections())


def test_conversations_alternate_roles_end_on_a_reply_and_carry_lineage(tmp_path):
    llm, _ = scripted()
    summary = run(tmp_path, recipe(), llm)
    accepted, _ = stored(summary)
    assert summary.accepted == 2
    for r in accepted:
        msgs = r.data["messages"]
        assert msgs[0] == {"role": "system", "content": SYSTEM}
        roles = [m["role"] for m in msgs[1:]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and roles[-1] == "assistant"
        assert 4 <= r.meta["turn_limit"] <= 6 and len(roles) <= r.meta["turn_limit"]
        assert r.data["end_reason"] == "turn_limit" == r.meta["end_reason"]
        assert r.meta["turn_models"] == ["fake:scripted"] * len(roles)
        assert r.data["scenario"]["goal"] in {s["goal"] for s in SCENARIOS}
    # the assistant's calls carry the recipe's system prompt
    assistant_calls = [q for q in llm.requests if q.purpose == "assistant"]
    assert all(SYSTEM in q.messages[0]["content"] for q in assistant_calls)


def test_the_user_ends_the_conversation_when_its_goal_is_met(tmp_path):
    llm, _ = scripted(end_at=1)
    summary = run(tmp_path, recipe(count=1, turns="2-8"), llm)
    (r,), _ = stored(summary)
    assert r.data["end_reason"] == "goal_met" and r.data["turns"] == 2
    assert r.meta["closing"] == USER[1]


def test_a_rejected_turn_is_written_again_with_the_same_history(tmp_path):
    # the first assistant call speaks as the user; the retry is accepted
    llm, _ = scripted(bad_assistant=lambda n: "User: can you help me with my bike?" if n == 1 else None)
    summary = run(tmp_path, recipe(count=1, turns="4"), llm)
    (r,), rejected = stored(summary)
    turn_rej = [x for x in rejected if x.stage == "turn"]
    assert [x.reason for x in turn_rej] == ["turn:role_swap"]
    assert r.meta["turn_tries"][1] == 2 and r.data["turns"] == 4
    first, second = [q for q in llm.requests if q.purpose == "assistant"][:2]
    assert first.messages == second.messages and first.seed != second.seed  # same history, another try


def test_repeats_cut_offs_and_a_stuck_turn(tmp_path):
    # every assistant reply repeats the user's message: stuck after `tries`, nothing kept
    llm, _ = scripted(bad_assistant=lambda n: USER[0])
    rec = recipe_from_dict({"name": "c", "count": 1, "quality": [],
                            "generate": {"technique": "conversation", "scenarios": SCENARIOS, "turns": 4,
                                         "tries": 2, "min_relevance": -1},
                            "engine": {"concurrency": 1, "max_attempts": 1}}, "t")
    summary = run(tmp_path, rec, llm)
    _, rejected = stored(summary)
    assert summary.accepted == 0
    assert [x.reason for x in rejected] == ["turn:repeated", "turn:repeated", "conversation:stuck"]


def test_turn_checks():
    hist = [{"role": "user", "content": USER[0]}]
    assert turn_problem("", "assistant", hist)[0] == "empty"
    assert turn_problem("Sure, we open at", "assistant", hist, "length")[0] == "cut_off"
    assert turn_problem(USER[0], "assistant", hist)[0] == "repeated"
    assert turn_problem("Assistant: sure thing", "user", hist)[0] == "role_swap"
    assert role_swap("Thanks! Is there anything else I can help you with?", "user")
    assert role_swap("Could you help me find my receipt?", "assistant")
    assert role_swap("Could you help me find my receipt?", "user") is None
    assert turn_problem("Yes, a helmet is included.", "assistant", hist, None, 0.02, 0.1)[0] == "irrelevant"
    assert turn_problem("Yes, a helmet is included.", "assistant", hist, None, 0.5, 0.1) is None


def test_resume_replays_finished_turns_from_the_cache(tmp_path):
    llm, calls = scripted()
    first = run(tmp_path, recipe(count=2), llm)
    n_first = len(llm.requests)
    # the same run again, with the store of the first: every turn a cache hit, nothing new
    llm2, _ = scripted()
    again = run(tmp_path, recipe(count=2), llm2)
    assert again.accepted == 2 and len(llm2.requests) == 0 and n_first > 0
    # a run that stopped mid-conversation: its calls are in the cache, its slot is not committed
    with RunStore(first.run_dir / "store.sqlite") as s:
        s._db.execute("DELETE FROM records WHERE slot = 1")
        s._db.execute("DELETE FROM slots WHERE slot = 1")
        s._db.commit()
        before = len(s.accepted_records())
    assert before == 1
    llm3, _ = scripted()
    resumed = run(tmp_path, recipe(count=2), llm3)
    accepted, _ = stored(resumed)
    assert resumed.accepted == 2 and len(llm3.requests) == 0
    assert len({json.dumps(r.data["messages"]) for r in accepted}) == 2


def test_user_and_assistant_on_their_own_models(tmp_path):
    from synthloom.generators.base import GenContext
    from synthloom.generators.conversation import build
    from synthloom.config.conversation import ConversationTechnique
    import asyncio

    cfg = ConversationTechnique(scenarios=SCENARIOS, turns=4, min_relevance=-1,
                                user_model={"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "u"})
    gen = build(cfg, tmp_path)
    user_llm, _ = scripted()
    user_llm._identity = "fake:user"
    assistant_llm, _ = scripted()

    class Models:
        def get(self, config):
            assert config.model == "u"
            return user_llm

    (rec,) = asyncio.run(gen.produce(0, GenContext(llm=assistant_llm, models=Models())))
    assert rec.meta["turn_models"] == ["fake:user", "fake:scripted"] * 2


def test_exports_keep_every_turn():
    row = {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER[0]},
                        {"role": "assistant", "content": ASSISTANT[0]}, {"role": "user", "content": USER[1]},
                        {"role": "assistant", "content": ASSISTANT[1]}], "end_reason": "turn_limit"}
    (oa,) = convert([row], "openai")
    assert oa["messages"] == row["messages"]
    (sg,) = convert([row], "sharegpt")
    assert [t["from"] for t in sg["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    (cm,) = convert([row], "chatml", system="other")
    assert cm["text"].count("<|im_start|>") == 5 and "other" in cm["text"] and SYSTEM not in cm["text"]
    from synthloom.errors import UsageError

    with pytest.raises(UsageError, match="multi-turn"):
        list(convert([row], "alpaca"))


def test_config_errors_name_the_field():
    with pytest.raises(RecipeError, match="turns"):
        recipe(turns="1-3")
    with pytest.raises(RecipeError, match="scenarios"):
        recipe(scenarios=[])
    with pytest.raises(RecipeError, match="examples"):
        recipe(examples=[[{"role": "assistant", "content": "hi"}]])


def test_fragments_loops_and_copies():
    hist = [{"role": "user", "content": USER[0]}]
    assert turn_problem("1. You are a very kind person.", "assistant", hist)[0] == "fragment"
    assert turn_problem("Open soon. Bikes are ready then. Open soon.", "assistant", hist) is None
    assert turn_problem("We open at nine on most days. Bikes are ready. We open at nine on most days.",
                        "assistant", hist)[0] == "looping"
    assert turn_problem("Sure, come by from 8:00 and bring an ID please.", "assistant", hist,
                        examples=["Tomorrow is free. Come by from 8:00 and bring an ID, please."])[0] == "copied_example"
    long = "Hi, I would like to rent a bike for Saturday morning and maybe Sunday."
    assert turn_problem(long, "user", hist + [{"role": "assistant", "content": "Sure."}])[0] == "repeated"


def test_the_report_shows_turns_end_reasons_rejections_and_conversations(tmp_path):
    from synthloom.export.report import build_report
    from synthloom.export.report_md import render_markdown

    llm, _ = scripted(bad_assistant=lambda n: "User: can you help me with my bike?" if n == 1 else None)
    summary = run(tmp_path, recipe(count=2), llm)
    rep = build_report(summary.run_dir, embedder=None)
    c = rep["conversation"]
    assert c["conversations"] == 2 and c["turns_rejected"] == 1
    assert c["rejected_by_reason"] == {"turn:role_swap": 1} and c["rejected_by_role"] == {"assistant": 1}
    assert c["end_reasons"] == {"turn_limit": 2} and len(c["shown"]) == 2
    md = render_markdown(rep)
    assert "## Conversations" in md and "turn:role_swap" in md and USER[0] in md


def test_exports_of_a_run_load_with_datasets_and_keep_conversations_whole(tmp_path):
    datasets = pytest.importorskip("datasets")
    from synthloom.export.dataset import export_run

    llm, _ = scripted()
    summary = run(tmp_path, recipe(count=6), llm)
    hf = export_run(summary.run_dir, "hf", tmp_path / "hf", split="0.5,0.5")
    dd = datasets.load_from_disk(str(hf.out_dir))
    rows = [r for name in dd for r in dd[name]]
    assert len(rows) == 6 and sum(hf.counts.values()) == 6  # a row is a whole conversation
    for r in rows:
        assert r["messages"][0]["role"] == "system" and r["messages"][-1]["role"] == "assistant"
        assert len(r["messages"]) == 1 + r["turns"]
    oa = export_run(summary.run_dir, "openai", tmp_path / "oa", split="0.5,0.5")
    lines = [json.loads(line) for f in oa.files.values() for line in (oa.out_dir / f).read_text().splitlines()]
    assert len(lines) == 6 and all(len(x["messages"]) >= 5 for x in lines)
    loaded = datasets.load_dataset("json", data_files=[str(oa.out_dir / f) for f in oa.files.values()], split="train")
    assert loaded.num_rows == 6 and loaded[0]["messages"][1]["role"] == "user"
    sg = export_run(summary.run_dir, "sharegpt", tmp_path / "sg", split="1")
    first = json.loads((sg.out_dir / sg.files["train"]).read_text().splitlines()[0])
    assert first["conversations"][1]["from"] == "human"


def test_the_optional_judge_records_the_goal_and_rejects_an_inconsistent_dialogue(tmp_path):
    llm, _ = scripted()
    good = {"reason": "the helmet question is answered", "goal_reached": "yes", "consistent": "yes"}
    bad = {"reason": "the assistant asks for help", "goal_reached": "no", "consistent": "no"}
    verdicts = iter([good, bad, good])

    def respond(req):
        if req.purpose == "judge":
            assert "The person's goal:" in req.messages[1]["content"] and SYSTEM in req.messages[1]["content"]
            return next(verdicts)
        return llm._responder(req)
    rec = recipe_from_dict({"name": "j", "count": 2, "quality": [],
                            "generate": {"technique": "conversation", "system": SYSTEM, "scenarios": SCENARIOS,
                                         "turns": 4, "min_relevance": -1, "judge": True},
                            "engine": {"concurrency": 1, "max_attempts": 3}}, "t")
    summary = run(tmp_path, rec, ScriptedLLM(respond))
    accepted, rejected = stored(summary)
    assert summary.accepted == 2 and all(r.meta["judge"] == good for r in accepted)
    assert [(r.stage, r.reason) for r in rejected] == [("judge", "conversation:inconsistent")]


def test_a_reply_that_says_the_turn_back_is_an_echo():
    hist = [{"role": "user", "content": "Good morning, do you have electric bicycles? Thank you!"}]
    assert turn_problem("Good morning, do you have e-bikes?", "assistant", hist)[0] == "echo"
    ok = [{"role": "user", "content": "When are you open on Sunday?"}]
    assert turn_problem("On Sunday we are open from 10:00 to 16:00.", "assistant", ok) is None
    assert turn_problem("Yes, I have electric bikes.", "assistant",
                        [{"role": "user", "content": "Do you have electric bikes?"}]) is None


def test_the_recipes_checks_switch_the_turn_checks(tmp_path):
    """`checks:` reaches the turns: a debris reply is rejected by default and kept with `readable` off; the
    run's manifest names the checks applied."""
    import json as _json

    debris = lambda n: "Yes, a helmet is included ... ... ... at no cost." if n == 1 else None  # noqa: E731
    llm, _ = scripted(bad_assistant=debris)
    summary = run(tmp_path, recipe(count=1, turns=2), llm)
    _, rejected = stored(summary)
    assert [x.reason for x in rejected][:1] == ["turn:unreadable"]
    assert _json.loads((summary.run_dir / "manifest.json").read_text())["checks"] == ["readable", "complete",
                                                                                      "relevant"]
    rec = recipe(count=1, turns=2)
    rec = rec.model_copy(update={"checks": ["complete"]})
    llm, _ = scripted(bad_assistant=debris)
    summary = run(tmp_path, rec, llm, out="off")
    accepted, rejected = stored(summary)
    assert not rejected and "... ... ..." in accepted[0].data["messages"][-1]["content"]
    assert _json.loads((summary.run_dir / "manifest.json").read_text())["checks"] == ["complete"]
    from synthloom.export.report import build_report
    from synthloom.export.report_md import render_markdown

    report = build_report(summary.run_dir, embedder=None)
    assert report["run"]["checks"] == ["complete"] and "acceptance checks: complete" in render_markdown(report)
