"""Preference data: scores to pairs (every rule, ties and margins dropped with a reason), the judge rating each
response alone, the reward endpoint, and config errors. Fakes only for logic; the bundled-model run is in
test_preference_model.py."""
from __future__ import annotations

import asyncio
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from fakes import ScriptedLLM
from synthloom.config.preference import PreferenceTechnique, RewardModel
from synthloom.generators.base import GenContext
from synthloom.generators.preference import build
from synthloom.generators.preference_pairs import (Scored, agreement, combine, form_pairs, judge_score,
                                                   signals_score)
from synthloom.generators.preference_reward import RewardScorer, read_score
from synthloom.records import Record, Rejection

PROMPTS = Path(__file__).resolve().parents[2] / "examples" / "preference" / "prompts.jsonl"


def s(i, score, text=None, **parts):
    return Scored(i, f"s{i}", text or f"answer number {i}", score, parts)


# ----------------------------------------------------------------- pair forming
def test_best_vs_worst_takes_the_ends():
    pairs, dropped = form_pairs([s(0, 0.5), s(1, 0.9), s(2, 0.1)], "best_vs_worst", 0.1)
    assert [(p.chosen.index, p.rejected.index) for p in pairs] == [(1, 2)] and not dropped
    assert pairs[0].margin == pytest.approx(0.8)


def test_tie_and_under_margin_are_dropped_with_their_reason():
    _, dropped = form_pairs([s(0, 0.5), s(1, 0.5)], "best_vs_worst", 0.1)
    assert [d.reason for d in dropped] == ["tie"]
    _, dropped = form_pairs([s(0, 0.5), s(1, 0.55)], "best_vs_worst", 0.1)
    assert [d.reason for d in dropped] == ["under_margin"] and "gap 0.050 < margin 0.1" in dropped[0].detail
    _, dropped = form_pairs([s(0, 0.9, "same words"), s(1, 0.1, "same words ")], "best_vs_worst", 0.1)
    assert [d.reason for d in dropped] == ["same_text"]


def test_unscored_responses_never_pair():
    pairs, dropped = form_pairs([s(0, None), s(1, 0.9)], "best_vs_worst", 0.0)
    assert not pairs and [d.reason for d in dropped] == ["too_few_scored"]
    pairs, _ = form_pairs([s(0, None), s(1, 0.9), s(2, 0.2)], "best_vs_worst", 0.0)
    assert (pairs[0].chosen.index, pairs[0].rejected.index) == (1, 2)


def test_all_above_margin_keeps_every_wide_pair_and_names_the_rest():
    pairs, dropped = form_pairs([s(0, 1.0), s(1, 0.95), s(2, 0.2)], "all_above_margin", 0.3)
    assert sorted((p.chosen.index, p.rejected.index) for p in pairs) == [(0, 2), (1, 2)]
    assert [(d.reason, d.pair.chosen.index, d.pair.rejected.index) for d in dropped] == [("under_margin", 0, 1)]
    assert all(p.margin >= 0.3 for p in pairs)


def test_best_vs_random_pairs_the_best_with_another_seeded():
    resp = [s(0, 0.9), s(1, 0.2), s(2, 0.3), s(3, 0.4)]
    picks = {form_pairs(resp, "best_vs_random", 0.0, random.Random(k))[0][0].rejected.index for k in range(30)}
    assert picks == {1, 2, 3}
    a = form_pairs(resp, "best_vs_random", 0.0, random.Random(5))[0][0]
    b = form_pairs(resp, "best_vs_random", 0.0, random.Random(5))[0][0]
    assert a.rejected.index == b.rejected.index and a.chosen.index == 0


def test_scores_and_agreement():
    assert judge_score({"a": 5, "b": 5}) == 1.0 and judge_score({"a": 1, "b": 3}) == 0.25
    assert judge_score({"a": 5, "b": None}) is None
    assert signals_score({"relevance": 0.5, "completeness": None, "fluency": 1.0}) == 0.75
    assert combine({"judge": 0.5, "signals": 1.0}, {"judge": 1.0, "signals": 0.5}) == 1.0
    assert combine({"judge": None, "signals": 1.0}, {"judge": 1.0}) is None
    pairs, _ = form_pairs([s(0, 0.9, signals=0.8), s(1, 0.1, signals=0.2)], "best_vs_worst", 0.0)
    pairs2, _ = form_pairs([s(0, 0.9, signals=0.1), s(1, 0.1, signals=0.2)], "best_vs_worst", 0.0)
    pairs3, _ = form_pairs([s(0, 0.9, signals=0.5), s(1, 0.1, signals=0.5)], "best_vs_worst", 0.0)
    assert agreement(pairs + pairs2 + pairs3) == {"agree": 1, "disagree": 1, "undecided": 1, "share": 0.5}


# ----------------------------------------------------------------- the technique on a scripted model
GOOD = "Keep a regular schedule, remove distractions and take short breaks every hour so your mind stays fresh."


def responder(texts: dict[str, str], ratings: dict[str, int]):
    """Responses by strategy; the judge rates a response by which strategy's text it is shown."""
    def respond(req):
        if req.purpose.startswith("preference:response:"):
            return {"output": texts[req.purpose.rsplit(":", 1)[1]]}
        shown = req.messages[-1]["content"].split("Response:\n", 1)[1]
        name = next(k for k, t in texts.items() if t == shown)
        return {a: {"rationale": f"rated for {name}.", "rating": ratings[name]}
                for a in ("helpfulness", "honesty", "instruction_following", "truthfulness")}
    return respond


def gen(**cfg):
    cfg.setdefault("signals", [])
    return build(PreferenceTechnique(prompts=str(PROMPTS), **cfg), PROMPTS.parent)


def run(g, llm, slot=0):
    return asyncio.run(g.produce(slot, GenContext(llm=llm, seed=0)))


def test_a_slot_makes_one_pair_with_every_response_rated_alone():
    texts = {"careful": GOOD, "varied": "Study.", "weak": "Turn off the phone and keep a list of goals for the day."}
    llm = ScriptedLLM(responder(texts, {"careful": 5, "varied": 1, "weak": 3}))
    g = gen()
    (rec,) = run(g, llm)
    assert isinstance(rec, Record)
    assert rec.data["chosen"] == GOOD and rec.data["rejected"] == "Study."
    assert rec.data["prompt"] == GenContext(llm=llm, seed=0).balanced(0, "prompt", g.prompts).text
    assert rec.meta["chosen_strategy"] == "careful" and rec.meta["rejected_strategy"] == "varied"
    assert rec.meta["margin"] == pytest.approx(1.0)
    judged = [r for r in llm.requests if r.purpose == "preference:judge"]
    assert len(judged) == 3
    for r in judged:  # one response per judge call: no other response, so no position to favour
        shown = r.messages[-1]["content"]
        assert sum(t in shown for t in texts.values()) == 1
    ratings = {e["strategy"]: e["ratings"]["honesty"] for e in rec.meta["responses"]}
    assert ratings["weak"] == {"rating": 3, "rationale": "rated for weak."}


def test_weak_strategy_sees_cut_examples_and_zero_shot_none():
    llm = ScriptedLLM(responder({"careful": GOOD, "varied": "Study.", "weak": "x y"}, {"careful": 5, "varied": 1, "weak": 2}))
    run(gen(), llm)
    by = {r.purpose.rsplit(":", 1)[1]: r for r in llm.requests if r.purpose.startswith("preference:response")}
    shots = lambda r: [json.loads(m["content"])["output"] for m in r.messages if m["role"] == "assistant"]
    assert len(shots(by["careful"])) == 3 and all(len(o.split()) <= 5 for o in shots(by["weak"]))
    assert max(len(o.split()) for o in shots(by["careful"])) > 5
    zero = gen(responses=[{"name": "a", "prompt": "zero_shot"}, {"name": "b"}])
    llm = ScriptedLLM(responder({"a": GOOD, "b": "Study."}, {"a": 4, "b": 2}))
    run(zero, llm)
    a = next(r for r in llm.requests if r.purpose.endswith(":a"))
    assert [m["role"] for m in a.messages] == ["system", "user"]


def test_equal_ratings_are_a_tie_in_the_funnel():
    texts = {"careful": GOOD, "varied": "Study.", "weak": "Turn off the phone."}
    (rej,) = run(gen(), ScriptedLLM(responder(texts, {"careful": 4, "varied": 4, "weak": 4})))
    assert isinstance(rej, Rejection) and rej.stage == "pair" and rej.reason == "tie"


def test_all_above_margin_gives_several_records_and_drops_close_ones():
    texts = {"careful": GOOD, "varied": "Study.", "weak": "Turn off the phone."}
    out = run(gen(pairs="all_above_margin", margin=0.3), ScriptedLLM(responder(texts, {"careful": 5, "varied": 1, "weak": 4})))
    recs = [o for o in out if isinstance(o, Record)]
    rej = [o for o in out if isinstance(o, Rejection)]
    assert sorted((r.meta["chosen_strategy"], r.meta["rejected_strategy"]) for r in recs) == [
        ("careful", "varied"), ("weak", "varied")]
    assert [(r.reason, r.data["chosen"]) for r in rej] == [("under_margin", GOOD)]


def test_unreadable_verdict_leaves_the_response_unscored():
    texts = {"careful": GOOD, "varied": "Study.", "weak": "Turn off the phone."}
    base = responder(texts, {"careful": 5, "varied": 1, "weak": 3})

    def respond(req):
        if req.purpose == "preference:judge" and GOOD in req.messages[-1]["content"].split("Response:")[1]:
            return "not json"
        return base(req)
    (rec,) = run(gen(), ScriptedLLM(respond))
    assert rec.data["chosen"] == "Turn off the phone." and rec.data["rejected"] == "Study."
    careful = next(e for e in rec.meta["responses"] if e["strategy"] == "careful")
    assert careful["score"] is None and "judge_error" in careful


def test_signals_only_ranking_and_completeness_agreement():
    texts = {"careful": GOOD, "varied": "Keep a regular schedule and remove the", "weak": "Take breaks."}
    out = run(gen(judge=None, signals=["completeness"], weights={"signals": 1.0}),
              ScriptedLLM(responder(texts, {})))
    (rec,) = out
    assert rec.meta["rejected_strategy"] == "varied"  # cut off mid-sentence: completeness 0
    assert "judge" not in rec.meta["agreement"] and "signals" not in rec.meta["agreement"]


def test_a_looping_response_is_not_fluent_though_its_perplexity_is_lowest(monkeypatch):
    """Perplexity rewards repetition (a repeated sentence is easy to predict): read on the bundled model,
    answers repeating one sentence scored perplexity 2.2-2.4, the best of their prompt, and were chosen."""
    import synthloom.quality.fluency as fluency
    from types import SimpleNamespace

    loop = "Drink water every day. " * 6
    texts = {"careful": GOOD, "varied": loop.strip(), "weak": "Take breaks."}

    class Scorer:
        def score(self, text):
            return SimpleNamespace(tokens=20, perplexity=2.3 if text == loop.strip() else 12.0)
    monkeypatch.setattr(fluency, "fluency_scorer", lambda *_a, **_k: Scorer())
    (rec,) = run(gen(judge=None, signals=["fluency"], weights={"signals": 1.0}), ScriptedLLM(responder(texts, {})))
    assert rec.data["chosen"] != loop.strip() and rec.data["rejected"] == loop.strip()
    looped = next(e for e in rec.meta["responses"] if e["strategy"] == "varied")
    assert looped["signals"]["fluency"] == 0.0 and looped["signals"]["repeats"] > 0.3
    assert looped["signals"]["perplexity"] == 2.3  # the measured value is kept for the report


# ----------------------------------------------------------------- reward model on a loopback server
class _Reward(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = body["messages"][1]["content"]
        reply = {"data": [{"score": float(len(answer))}]} if body["model"] == "rm" else {"oops": 1}
        raw = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *a):
        pass


def test_reward_endpoint_scores_and_a_bad_reply_is_named():
    srv = HTTPServer(("127.0.0.1", 0), _Reward)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/score"
        assert asyncio.run(RewardScorer(RewardModel(url=url, model="rm")).score("q", "four")) == 4.0
        from synthloom.errors import BackendError

        with pytest.raises(BackendError, match="no score in the reply"):
            asyncio.run(RewardScorer(RewardModel(url=url, model="other")).score("q", "a"))
        texts = {"careful": GOOD, "varied": "Study.", "weak": "Turn off the phone."}
        (rec,) = run(gen(reward={"url": url, "model": "rm"}, weights={"reward": 1.0}),
                     ScriptedLLM(responder(texts, {"careful": 1, "varied": 5, "weak": 3})))
        assert rec.data["chosen"] == GOOD and rec.data["score_chosen"] == float(len(GOOD))
        assert rec.meta["agreement"]["judge"] is False  # the judge preferred the other one
    finally:
        srv.shutdown()
    assert read_score(3) == 3.0 and read_score({"reward": [0.1, 0.7]}) == 0.7 and read_score({"x": 1}) is None


def test_config_errors_name_the_fix():
    with pytest.raises(ValidationError, match="at least two strategies"):
        PreferenceTechnique(prompts="p.jsonl", responses=[{"name": "one"}])
    with pytest.raises(ValidationError, match="exactly one of prompts"):
        PreferenceTechnique()
    with pytest.raises(ValidationError, match="weights names reward"):
        PreferenceTechnique(prompts="p.jsonl", weights={"reward": 1.0})
    with pytest.raises(ValidationError, match="has no description"):
        PreferenceTechnique(prompts="p.jsonl", judge={"aspects": ["brevity"]})
    with pytest.raises(ValidationError, match="exactly one of url"):
        RewardModel()


def test_a_run_through_the_engine_reports_margins_agreement_and_drops(tmp_path):
    """The engine, the store and the report on a scripted model: pairs, a tie dropped in the funnel, agreement."""
    from synthloom.config import Recipe
    from synthloom.engine import run_recipe
    from synthloom.export.report import build_report
    from synthloom.export.report_md import render_markdown

    texts = {"careful": GOOD, "varied": "Study.", "weak": "Turn off the phone and write a list of goals first."}
    calls = {"n": 0}
    seen: dict[str, int] = {}

    def respond(req):
        if req.purpose.startswith("preference:response:"):
            calls["n"] += 1
            return {"output": texts[req.purpose.rsplit(":", 1)[1]] + ("" if calls["n"] % 9 else " Also rest.")}
        shown = req.messages[-1]["content"].split("Response:\n", 1)[1]
        prompt = req.messages[-1]["content"].split("Response:\n", 1)[0]
        seen.setdefault(prompt, len(seen))
        tie = seen[prompt] == 1  # every response to the second prompt gets the same rating: a tie
        rating = 3 if tie else 5 if shown.startswith("Keep") else 1 if shown.startswith("Study") else 3
        return {a: {"rationale": "ok.", "rating": rating}
                for a in ("helpfulness", "honesty", "instruction_following", "truthfulness")}

    recipe = Recipe.model_validate({"name": "pref", "count": 4, "generate": {
        "technique": "preference", "prompts": str(PROMPTS), "signals": ["completeness"]},
        "engine": {"concurrency": 1}})
    s = run_recipe(recipe, output=tmp_path / "out", llm=ScriptedLLM(respond))
    assert s.accepted == 4
    rows = [json.loads(l) for l in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert all(set(r) == {"prompt", "chosen", "rejected", "score_chosen", "score_rejected"} for r in rows)
    assert all(r["chosen"].startswith("Keep") and r["rejected"].startswith("Study") for r in rows)
    rep = build_report(tmp_path / "out", embedder=None)
    p = rep["preference"]
    assert p["pairs"] == 4 and p["dropped"] == {"tie": 1} and p["prompts_tried"] == 5 and p["usable_share"] == 0.8
    assert p["margin"]["median"] == 1.0 and p["chosen_strategy"] == {"careful": 4}
    assert p["agreement"]["signals"]["agree"] + p["agreement"]["signals"]["undecided"] == 4
    md = render_markdown(rep)
    assert "## Preference pairs" in md and "4 pairs from 4 of 5 prompts tried (80% gave a usable pair)" in md


def test_prompts_from_another_run_and_a_missing_run_is_named(tmp_path):
    from synthloom.errors import InputFileError

    run = tmp_path / "si"
    run.mkdir()
    rows = [{"instruction": f"Task {i}: name a fruit.", "input": "", "output": f"Fruit {i}: apple."} for i in range(4)]
    (run / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    g = build(PreferenceTechnique(from_run="si", signals=[]), tmp_path)
    assert [p.text for p in g.prompts] == [r["instruction"] for r in rows]
    assert [p.output for p in g.examples] == [r["output"] for r in rows]
    with pytest.raises(InputFileError, match=r"generate.from_run: .*nope: no run here"):
        build(PreferenceTechnique(from_run="nope", signals=[]), tmp_path)
