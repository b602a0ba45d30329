"""Money against a real loopback server: prices, the max_cost budget, the estimate, bad input."""
from __future__ import annotations

import json

import pytest

from synthloom.engine import RunStore
from synthloom.engine.api import arun_recipe
from synthloom.engine.cost import call_cost
from synthloom.engine.estimate import aestimate
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import RecipeError
from synthloom.export.report import build_report
from synthloom.export.report_md import render_markdown
from synthloom.llm import openai_compat

from helpers.busy_server import BusyServer

SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": "string", "minLength": 3}, "priority": {"type": "integer", "minimum": 1, "maximum": 3}},
    "required": ["subject", "priority"],
}
PRICE = {"input": 0.5, "output": 2.0}  # per million tokens; the server bills 20 + 12 tokens per call
PER_CALL = (20 * 0.5 + 12 * 2.0) / 1e6


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(openai_compat, "_BACKOFF_BASE_S", 0.01)


@pytest.fixture
async def server():
    srv = await BusyServer(capacity=1000, latency=0.0).start()
    yield srv
    await srv.stop()


def recipe(srv, count=30, schema=SCHEMA, price=PRICE, model_extra=None, **engine):
    model = {"backend": "openai", "base_url": srv.base_url, "model": "m", "api_key_env": None, **(model_extra or {})}
    if price is not None:
        model["price"] = price
    return recipe_from_dict({
        "name": "cost", "count": count, "model": model,
        "generate": {"technique": "schema", "schema": schema, "instruction": "support tickets",
                     "sampling": {"max_tokens": 64}},
        "engine": {"concurrency": 1, **engine},
    }, "test")


async def test_max_cost_stops_before_the_call_that_could_cross_it_and_a_resume_continues(server, tmp_path):
    budget = 0.0006  # ~17 calls at 34 micro-dollars; the worst case of one call is 64 output tokens + its prompt
    s = await arun_recipe(recipe(server, count=40, max_cost=budget), output=tmp_path / "t.jsonl")
    assert not s.complete and s.stopped_by == "max_cost" and "engine.max_cost $0.0006" in s.stop_detail
    spent = server.served * PER_CALL
    assert s.cost == pytest.approx(spent) and spent <= budget
    # stopped exactly: one more call at its worst case could have crossed the budget, a real one would not have
    worst_output = 64 * 2.0 / 1e6
    assert spent + worst_output > budget and budget - spent < worst_output + 2 * PER_CALL
    # what it has is written, and the manifest carries the cost
    rows = (tmp_path / "t.jsonl").read_text().splitlines()
    assert len(rows) == s.accepted == server.served
    manifest = json.loads((tmp_path / "t.run" / "manifest.json").read_text())
    assert manifest["stopped_by"] == "max_cost" and manifest["cost"]["total"] == pytest.approx(spent, abs=1e-6)
    assert manifest["cost"]["by_purpose"] == {"generate": pytest.approx(spent, abs=1e-6)}
    # a higher budget continues from there: nothing is asked twice
    before = server.served
    s2 = await arun_recipe(recipe(server, count=40, max_cost=0.01), output=tmp_path / "t.jsonl")
    assert s2.complete and s2.accepted == 40 and server.served == 40 and before < 40
    assert s2.cost == pytest.approx(40 * PER_CALL)


async def test_cost_in_report_and_card_per_model_and_purpose(server, tmp_path):
    seen = []
    s = await arun_recipe(recipe(server, count=6, model_extra={"price": {"input": 0.5, "output": 2.0, "cached_input": 0.1}}),
                          output=tmp_path / "t.jsonl", on_progress=lambda p: seen.append((p.cost, p.limit)))
    assert s.complete and s.cost == pytest.approx(6 * PER_CALL)
    # what the progress line shows: the cost so far, and the adaptive limit of the openai backend
    assert seen[0] == (0.0, "") and seen[-1] == (pytest.approx(6 * PER_CALL), "64/64")
    assert [c for c, _l in seen] == sorted(c for c, _l in seen)
    report = build_report(s.run_dir, embedder=None)
    assert report["cost"]["money"]["total"] == pytest.approx(6 * PER_CALL)
    assert report["cost"]["by_model_and_purpose"][0]["cost"] == pytest.approx(6 * PER_CALL)
    assert report["cost"]["concurrency"][0]["max"] == 64
    md = render_markdown(report)
    assert "| cost |" in md and "$0.0002" in md and "Cost by purpose: generate $0.0002" in md
    from synthloom.export.card import build_card

    card = build_card(json.loads((s.run_dir / "manifest.json").read_text()), {"train": 6}, "jsonl")
    assert "| cost |" in card and "Cost: $0.0002 at the recipe's prices per million tokens (generate $0.0002)" in card
    with RunStore(s.run_dir / "store.sqlite") as store:  # what `synthloom export` hands the card: no cost key
        plain = build_card(store.manifest(s.run_id), {"train": 6}, "jsonl")

    def usage_section(text):
        return text[text.index("## Token usage"):text.index("## Recipe")]
    assert usage_section(plain) == usage_section(card)
    from synthloom.export.dataset import load_run

    _rows, loaded = load_run(s.run_dir)  # what `synthloom export` reads: the store, plus what only the run knew
    assert loaded["cost"]["total"] == pytest.approx(6 * PER_CALL) and loaded["generator"] == s.generator
    assert loaded["concurrency"] == json.loads((s.run_dir / "manifest.json").read_text())["concurrency"]


def test_cached_prompt_tokens_are_billed_at_their_price():
    price = {"input": 1.0, "output": 4.0, "cached_input": 0.25}
    assert call_cost(price, 1000, 100, cached_prompt=800) == pytest.approx((200 * 1.0 + 800 * 0.25 + 100 * 4.0) / 1e6)


async def test_estimate_projects_the_real_run(server, tmp_path):
    # priority 2 and 3 fail this schema (two thirds of the answers): about half the slots yield nothing
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "priority": {"type": "integer", "maximum": 1}}}
    r = recipe(server, count=60, schema=schema)
    est = await aestimate(r, output=tmp_path / "t.jsonl", pilot=20)
    assert est.possible and est.accepted == 20 and 0.4 < est.yield_per_slot < 0.9
    pilot_calls = server.served
    assert est.fresh_calls == pilot_calls
    s = await arun_recipe(r, output=tmp_path / "t.jsonl")
    assert s.complete and s.resumed
    with RunStore(s.run_dir / "store.sqlite") as store:
        slots = len(store.done_slots(s.run_id))
    # the pilot's calls were not paid again: the server answered each call of the run once
    assert server.served == est.fresh_calls + s.calls - s.cache_hits
    mid, lo, hi = est.projected["slots"]
    assert lo <= slots <= hi and abs(mid - slots) / slots < 0.35, (lo, mid, slots, hi)
    mid, lo, hi = est.projected["calls"]
    assert lo <= server.served <= hi, (lo, mid, server.served, hi)
    mid, lo, hi = est.projected["cost"]
    assert lo <= s.cost <= hi and s.cost == pytest.approx(server.served * PER_CALL), (lo, mid, s.cost, hi)


async def test_estimate_of_a_recipe_that_yields_nothing_shows_the_reasons(server, tmp_path):
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "priority": {"type": "integer", "maximum": 0}}}
    est = await aestimate(recipe(server, count=50, schema=schema), output=tmp_path / "t.jsonl", pilot=2)
    assert not est.possible and est.projected == {} and est.slots == 5 * 2 + 20
    assert est.rejections and est.rejections[0][:2] == ("validate", "schema:maximum")


async def test_estimate_warns_against_the_budget_the_run_will_have(server, tmp_path, monkeypatch):
    from synthloom.engine.projection import default_attempts
    from synthloom.generators.schema import SchemaGenerator

    # a technique that declares a low yield gets a larger default budget; the estimate must use the same
    monkeypatch.setattr(SchemaGenerator, "expected_yield", 0.1)
    est = await aestimate(recipe(server, count=60), output=tmp_path / "a.jsonl", pilot=5)
    assert est.budget == default_attempts(60, 0.1) == 920 and est.warnings == []
    # a budget set in the recipe wins, and a projection above it is a warning that says what to raise
    est = await aestimate(recipe(server, count=60, max_attempts=40), output=tmp_path / "b.jsonl", pilot=5)
    assert est.budget == 40
    assert any("engine.max_attempts allows 40 slots but about 60 are needed" in w for w in est.warnings), est.warnings


def test_bad_prices_and_budgets_are_errors_that_name_the_field(server):
    with pytest.raises(RecipeError, match=r"model.price.input must be >= 0 \(got -1\)"):
        recipe(server, price={"input": -1, "output": 1})
    with pytest.raises(RecipeError, match=r"engine.max_cost must be > 0 \(got 0\)"):
        recipe(server, max_cost=0)


async def test_max_cost_without_any_price_is_refused(server, tmp_path):
    with pytest.raises(RecipeError, match="engine.max_cost is set but no model has a price"):
        await arun_recipe(recipe(server, price=None, max_cost=1.0), output=tmp_path / "t.jsonl")


async def test_a_server_that_always_429s_stops_on_a_budget_with_nothing_lost(tmp_path):
    srv = await BusyServer(capacity=0, retry_after=0.01).start()
    try:
        r = recipe(srv, count=3, model_extra={"max_retries": 1}, max_attempts=3)
        s = await arun_recipe(r, output=tmp_path / "t.jsonl")
    finally:
        await srv.stop()
    assert not s.complete and s.stopped_by == "max_attempts" and s.accepted == 0
    assert {(st, r) for st, r, _n in s.rejections} == {("parse", "backend_error")}
    assert s.concurrency[0]["limit"] == 1 and s.concurrency[0]["cuts"] >= 1
    assert (tmp_path / "t.jsonl").exists()


def test_prices_are_found_in_every_model_block_under_the_backends_identity():
    from synthloom.config.models import OpenAIModel
    from synthloom.engine.cost import model_identity, price_table
    from synthloom.llm.openai_compat import OpenAICompatLLM

    gen = {"backend": "openai", "base_url": "https://user:secret@api.example.com/v1/", "model": "big",
           "price": {"input": 1.0, "output": 2.0}}
    judge = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "small",
             "price": {"input": 0.1, "output": 0.2, "cached_input": 0.05}}
    recipe = {"model": [gen, {"backend": "llamacpp"}], "quality": [{"gate": "judge", "model": judge}]}
    table = price_table(recipe)
    assert model_identity(gen) == OpenAICompatLLM(OpenAIModel(**gen)).identity
    assert "secret" not in model_identity(gen)
    assert table == {model_identity(gen): {"input": 1.0, "output": 2.0, "cached_input": 1.0},
                     model_identity(judge): {"input": 0.1, "output": 0.2, "cached_input": 0.05}}


async def test_cost_per_model_and_purpose_with_a_priced_judge(server, tmp_path):
    judge = {"backend": "openai", "base_url": server.base_url, "model": "judge", "api_key_env": None,
             "price": {"input": 1.0, "output": 4.0}}
    r = recipe(server, count=5)
    r = r.model_copy(update={"quality": recipe_from_dict({**r.model_dump(mode="json", by_alias=True),
                                                         "quality": [{"gate": "judge", "model": judge}]}, "t").quality})
    s = await arun_recipe(r, output=tmp_path / "t.jsonl")
    assert s.complete
    manifest = json.loads((tmp_path / "t.run" / "manifest.json").read_text())
    calls = {(u["model"].rsplit("#", 1)[1], u["purpose"]): u["calls"] for u in manifest["usage"]}
    assert calls == {("m", "generate"): 5, ("judge", "judge"): 5}
    judge_call = (20 * 1.0 + 12 * 4.0) / 1e6
    money = manifest["cost"]
    assert money["by_purpose"] == {"generate": pytest.approx(5 * PER_CALL), "judge": pytest.approx(5 * judge_call)}
    assert sorted(money["by_model"].values()) == [pytest.approx(5 * PER_CALL), pytest.approx(5 * judge_call)]
    assert money["total"] == pytest.approx(5 * (PER_CALL + judge_call)) == s.cost
