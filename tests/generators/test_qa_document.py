"""qa's document form: the reading-check sheet a base model continues, chosen for base models only."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from fakes import ScriptedLLM
from synthloom.config.documents import QATechnique
from synthloom.generators import build_generator
from synthloom.generators.base import GenContext
from synthloom.generators.qa_document import SHEET_HEAD
from synthloom.generators.qa_options import answer_spans
from synthloom.records import Record, Rejection

from test_qa_plan import KB_TEXT


def gen_for(tmp_path, **kw):
    (tmp_path / "pool.md").write_text(KB_TEXT)
    return build_generator(QATechnique.model_validate(
        {"technique": "qa", "docs": str(tmp_path), "kinds": {"factual": 1}, "judge": False, **kw}), Path("."))


class BaseModel(ScriptedLLM):
    """A fake that says it is a base model, as the bundled llama.cpp backend does."""
    prompt_style = "completion"


def sheet_writer(question="How much does it cost to rent a towel at the desk?", answer_index=-1):
    """Writes `question` for an open question line, and picks an offered span for an open answer."""
    def respond(req):
        if req.json_schema is None:
            return " " + question  # the model writes its own space after "Question:"
        return json.dumps(req.json_schema["enum"][answer_index])  # the JSON string a backend writes
    return respond


def test_the_document_prompt_is_a_sheet_the_model_continues(tmp_path):
    gen = gen_for(tmp_path, prompt_form="document")
    llm = ScriptedLLM(sheet_writer())
    ctx = GenContext(llm=llm, seed=0)
    evidence = gen.plan(0, ctx)["evidence"]
    (rec,) = asyncio.run(gen.produce(0, ctx))
    ask, answer = llm.requests
    # the question: raw text to the end of the line, the prompt ending on "Question:" (no trailing space)
    assert ask.messages is None and ask.json_schema is None and ask.stop == ("\n",)
    assert ask.prompt.startswith(SHEET_HEAD + "\n\nSentence: Late items cost 25 cents per day")
    assert ask.prompt.endswith(f"\n\nSentence: {evidence}\nQuestion:")
    assert ask.prompt.count("Sentence: ") == 9  # eight worked entries and the evidence
    assert "Asked by" not in ask.prompt and "Phrasing" not in ask.prompt  # a base model copies instructions
    assert ask.temperature == 0.3  # the form's own default, as no recipe sampling was given
    # the answer: the same sheet with the question, an enum of the evidence's spans, greedy
    assert answer.prompt == ask.prompt + " How much does it cost to rent a towel at the desk?\nAnswer:"
    assert answer.json_schema == {"type": "string", "enum": answer_spans(evidence)} and answer.temperature == 0
    assert isinstance(rec, Record)
    assert rec.data["question"] == "How much does it cost to rent a towel at the desk?"
    assert rec.data["answer"] == answer_spans(evidence)[-1] and rec.data["evidence"] == [evidence]
    assert rec.meta["prompt_form"] == "document" and rec.meta["template"] == "qa_factual_document"
    assert "persona" not in rec.meta  # the sheet names none


def test_auto_picks_the_document_form_for_a_base_model_only(tmp_path):
    gen = gen_for(tmp_path)
    (rec,) = asyncio.run(gen.produce(0, GenContext(llm=BaseModel(sheet_writer()), seed=0)))
    assert rec.meta["prompt_form"] == "document"
    chat = ScriptedLLM(lambda req: {"question": "How much does it cost to rent a towel?",
                                    "answer": req.json_schema["properties"]["answer"]["enum"][-1]})
    (rec,) = asyncio.run(gen_for(tmp_path).produce(0, GenContext(llm=chat, seed=0)))
    assert rec.meta["prompt_form"] == "chat" and chat.requests[0].messages  # a chat server keeps the chat form
    # a recipe can force the chat form on a base model; multi-hop and unanswerable questions keep it
    forced = gen_for(tmp_path, prompt_form="chat")
    assert forced.prompt_form("factual", BaseModel(sheet_writer())) == "chat"
    assert gen.prompt_form("unanswerable", BaseModel(sheet_writer())) == "chat"


def test_a_line_that_is_not_a_question_or_copies_an_entry_is_drawn_again(tmp_path):
    gen = gen_for(tmp_path, prompt_form="document")
    llm = ScriptedLLM(sheet_writer(question="Lockers take a coin"))
    out = asyncio.run(gen.produce(0, GenContext(llm=llm, seed=0)))
    assert [r.reason for r in out] == ["not_a_question"] * 3
    assert isinstance(out[0], Rejection) and "Lockers take a coin" in out[0].detail
    assert out[0].raw.startswith("Question: Lockers take a coin\nAnswer: ")  # both lines the model wrote
    copied = "How long is lost property kept at the front desk?"
    llm = ScriptedLLM(sheet_writer(question=copied))
    out = asyncio.run(gen_for(tmp_path, prompt_form="document").produce(0, GenContext(llm=llm, seed=0)))
    assert [r.reason for r in out] == ["copies_example"] * 3
    asks = [r.prompt for r in llm.requests if r.json_schema is None]
    assert copied in asks[0]
    assert all(copied not in p for p in asks[1:])  # the retries leave the copied entry out


def test_a_misspelt_prompt_form_names_the_field():
    with pytest.raises(ValidationError, match="prompt_form"):
        QATechnique.model_validate({"technique": "qa", "docs": "kb", "prompt_form": "documents"})


def test_a_temperature_the_recipe_writes_is_kept(tmp_path):
    for sampling, want in (({"max_tokens": 200}, 0.3), ({"temperature": 0.7}, 0.7)):
        llm = ScriptedLLM(sheet_writer())
        asyncio.run(gen_for(tmp_path, prompt_form="document", sampling=sampling).produce(0, GenContext(llm=llm, seed=0)))
        assert llm.requests[0].temperature == want


def test_a_base_judge_is_not_asked_about_a_document_pair(tmp_path):
    """A document-form factual answer is a span of its evidence by construction; a base model's yes/no on such
    pairs rejected good and bad alike (docs/benchmarks_junk.md), so its call is not made. A chat model still
    judges them, and a base model still judges the other kinds (the chat form)."""
    def writer_and_judge(req):
        if req.json_schema and "verdict" in req.json_schema.get("properties", {}):
            return {"verdict": "no"}  # a judge that rejects everything
        return sheet_writer()(req)

    base = BaseModel(writer_and_judge)
    (rec,) = asyncio.run(gen_for(tmp_path, judge=True).produce(0, GenContext(llm=base, seed=0)))
    assert isinstance(rec, Record) and rec.meta["prompt_form"] == "document"
    assert rec.meta["judge"].startswith("skipped")
    assert len(base.requests) == 2  # the question and the answer: no judge call
    chat = ScriptedLLM(writer_and_judge)
    out = asyncio.run(gen_for(tmp_path, judge=True, prompt_form="document").produce(0, GenContext(llm=chat, seed=0)))
    assert [(r.stage, r.reason) for r in out] == [("judge", "unsupported")] and len(chat.requests) == 3
