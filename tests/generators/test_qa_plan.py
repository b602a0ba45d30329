"""The factual plan spreads questions over a chunk's sentences, and a pair repeating an accepted pair's
evidence and answer is dropped with its own reason."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import ScriptedLLM
from synthloom.config.documents import QATechnique
from synthloom.generators import build_generator
from synthloom.generators.base import GenContext
from synthloom.generators.qa_options import askable_sentences
from synthloom.records import Record, Rejection

from test_qa import Model, about, planned_evidence

KB_TEXT = ("# Opening hours\n\n"
           "The pool opens at 7:00 on weekdays; on weekends it opens at 9:00. "
           "Lane swimming is reserved for members before 8:00. "
           "Children under eight must be accompanied by an adult in the water. "
           "Lockers take a one-euro coin that is returned when you open them. "
           "Towels can be rented at the desk for two euros. "
           "See you soon.\n")


def gen_for(tmp_path, **kw):
    (tmp_path / "pool.md").write_text(KB_TEXT)
    return build_generator(QATechnique.model_validate(
        {"technique": "qa", "docs": str(tmp_path), "kinds": {"factual": 1}, "judge": False, **kw}), Path("."))


def test_successive_slots_on_one_chunk_ask_about_different_sentences(tmp_path):
    gen = gen_for(tmp_path)
    ctx = GenContext(llm=None, seed=4)
    planned = [gen.plan(slot, ctx)["evidence"] for slot in range(5)]
    assert len(set(planned)) == 5  # five askable sentences, five slots: each once
    assert all(p in KB_TEXT for p in planned)
    assert "See you soon." not in planned  # too short to carry a question
    # deterministic in slot and seed; another seed starts elsewhere in the cycle
    assert [gen_for(tmp_path).plan(s, GenContext(llm=None, seed=4))["evidence"] for s in range(5)] == planned
    assert [gen.plan(s, GenContext(llm=None, seed=5))["evidence"] for s in range(5)] != planned \
        or [gen.plan(s, GenContext(llm=None, seed=6))["evidence"] for s in range(5)] != planned
    # the sixth visit comes back to the first sentence
    assert gen.plan(5, ctx)["evidence"] == planned[0]


def test_the_request_names_the_planned_sentence_and_the_row_cites_it(tmp_path):
    gen = gen_for(tmp_path)
    llm = ScriptedLLM(Model())
    ctx = GenContext(llm=llm, seed=0)
    (rec,) = asyncio.run(gen.produce(0, ctx))
    assert isinstance(rec, Record)
    assert rec.data["evidence"] == [planned_evidence(llm.requests[0])] == [gen.plan(0, ctx)["evidence"]]
    assert rec.data["answer"].rstrip(".").lower() in rec.data["evidence"][0].lower()


def test_one_sentence_gives_as_many_pairs_as_it_has_answer_spans_then_the_slots_make_no_calls(tmp_path):
    """Five askable sentences, seven distinct (sentence, answer span) pairs: the "opens at 7:00 on weekdays;
    on weekends it opens at 9:00" sentence gives three. Past seven, a slot is `evidence_used_up` without a call."""
    from synthloom.generators.qa_options import answer_spans

    gen = gen_for(tmp_path)
    llm = ScriptedLLM(Model())
    ctx = GenContext(llm=llm, seed=0)
    outs = []
    for slot in range(9):
        for item in asyncio.run(gen.produce(slot, ctx)):
            outs.append(item)
            if isinstance(item, Record):
                ctx.accepted.append(item)
    recs = [o for o in outs if isinstance(o, Record)]
    pairs = [(r.data["evidence"][0], r.data["answer"]) for r in recs]
    assert len(pairs) == len(set(pairs)) == 7
    assert len({e for e, _ in pairs}) == 5
    assert all(a in answer_spans(e) for e, a in pairs)
    hours = [a for e, a in pairs if e.startswith("The pool opens")]
    assert sorted(hours) == sorted(answer_spans("The pool opens at 7:00 on weekdays; on weekends it opens at 9:00."))
    rejected = [o for o in outs if isinstance(o, Rejection)]
    assert [(r.stage, r.reason) for r in rejected] == [("dedup", "evidence_used_up")] * 2
    assert len(llm.requests) == 7  # the two used-up slots asked the model nothing
    assert gen.describe()["evidence_coverage"] == {"sentences": 5, "cited": 5, "share": 1.0}


def test_a_count_above_what_the_knowledge_base_gives_is_said_up_front(tmp_path, caplog):
    gen = gen_for(tmp_path)
    with caplog.at_level("WARNING"):
        asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(Model()), seed=0, target=20)))
    (note,) = gen.describe()["notes"]
    assert "about 20 factual pairs" in note and "at most 7 distinct" in note
    assert "add documents or lower the count (-n) to about 7" in note
    assert note in caplog.text and gen.describe()["capacity"] == {"factual": 7}
    quiet = gen_for(tmp_path)
    asyncio.run(quiet.produce(0, GenContext(llm=ScriptedLLM(Model()), seed=0, target=7)))
    assert "notes" not in quiet.describe()


def test_same_evidence_and_answer_as_an_accepted_pair_is_dropped():
    """A pair two slots in flight both wrote (the answer was open when each asked) keeps the first."""
    from synthloom.generators.qa_options import same_evidence

    ev = "Towels can be rented at the desk for two euros."
    first = Record(data={"question": "Where can I rent a towel?", "answer": ev, "evidence": [ev], "kind": "factual"},
                   meta={})
    row = {"question": "How much is a towel?", "answer": ev.upper(), "evidence": [" ".join(ev.split(" "))]}
    assert "cites the same evidence with the same answer" in same_evidence(row, [first])
    assert same_evidence({**row, "answer": "For two euros."}, [first]) is None


def test_an_accepted_sentence_is_passed_over_while_the_chunk_has_others(tmp_path):
    gen = gen_for(tmp_path)
    ctx = GenContext(llm=ScriptedLLM(Model()), seed=0)
    first = gen.plan(0, ctx)["evidence"]
    ctx.accepted.append(Record(data={"question": "q?", "answer": "a", "evidence": [first], "kind": "factual",
                                     "source_ids": []}, meta={}))
    (rec,) = asyncio.run(gen.produce(0, ctx))
    assert isinstance(rec, Record) and rec.data["evidence"] != [first]


def test_askable_sentences_keep_those_with_enough_content():
    assert askable_sentences(["See you soon at the pool.", "Towels can be rented at the desk for two euros."]) == [
        "Towels can be rented at the desk for two euros."]
    assert askable_sentences(["See you soon."]) == ["See you soon."]  # nothing better: all of them


def test_a_draw_that_copies_a_worked_example_is_drawn_again_without_it(tmp_path):
    gen = gen_for(tmp_path)
    copied = "What is the most I can be charged for one late item?"
    model = Model(question=copied)
    llm = ScriptedLLM(model)
    out = asyncio.run(gen.produce(0, GenContext(llm=llm, seed=0)))
    assert [r.reason for r in out] == ["copies_example"] * 3
    shown = [[m["content"] for m in q.messages if m["role"] == "assistant"] for q in llm.requests]
    assert any(copied in a for a in shown[0])
    assert not any(copied in a for a in shown[1] + shown[2])  # the retries leave the copied example out
    assert len(shown[1]) == len(shown[0]) - 1


def test_a_question_about_the_examples_subject_is_a_copy(tmp_path):
    gen = gen_for(tmp_path)
    # "printer" and "afternoon" come from the multi-hop worked example and occur nowhere in the pool's documents
    out = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(Model(
        question="Can I rent a towel with a 3D printer for the afternoon?")), seed=0)))
    assert out[0].reason == "copies_example" and "printer, afternoon" in out[0].detail
    # one such word is not enough: a user may ask about being late
    out = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(Model(
        question="Can I rent a towel in the afternoon?")), seed=0)))
    assert isinstance(out[0], Record)


def test_multi_hop_slots_combine_different_sentence_pairs(tmp_path):
    (tmp_path / "pool.md").write_text(KB_TEXT)
    (tmp_path / "towels.md").write_text("# Towels and lockers\n\nTowels rented at the desk are washed every night. "
                                        "Lockers must be emptied before the pool closes each evening.\n")
    gen = build_generator(QATechnique.model_validate(
        {"technique": "qa", "docs": str(tmp_path), "kinds": {"multi_hop": 1}, "judge": False,
         "min_chunk_chars": 50}), Path("."))
    ctx = GenContext(llm=None, seed=0)
    pairs = [tuple(gen.plan(slot, ctx)["evidence"]) for slot in range(6)]
    assert len(set(pairs)) == 6
    # the best-linked pair first: the two sentences about towels at the desk
    assert "Towels" in pairs[0][0] and "Towels" in pairs[0][1]


def test_the_question_must_name_one_of_its_evidence_key_terms(tmp_path):
    """The question's schema pattern (enforced while decoding) admits what the off-evidence check admits."""
    import re

    from synthloom.generators.qa_answer_support import question_meets_evidence

    gen = gen_for(tmp_path)
    llm = ScriptedLLM(Model())
    ctx = GenContext(llm=llm, seed=0)
    asyncio.run(gen.produce(0, ctx))
    evidence = planned_evidence(llm.requests[0])
    pattern = llm.requests[0].json_schema["properties"]["question"]["pattern"]
    towels = "Towels can be rented at the desk for two euros."
    from synthloom.generators.qa_options import question_pattern

    towel_pattern = question_pattern([towels])
    for question, fits in [("Where can I rent a towel?", True), ("How much do TOWELS cost to rent?", True),
                           ("Can I borrow one?", False), ("What does it cost for 2 people?", False)]:
        assert bool(re.search(towel_pattern, question)) is fits is question_meets_evidence(question, [towels])
    assert re.search(pattern, about("Is this allowed?", evidence))
    assert not re.search(pattern, "Is this allowed?") or question_meets_evidence("Is this allowed?", [evidence])


def test_the_answer_is_chosen_before_the_question_is_written(tmp_path):
    """The schema and the worked examples put the answer first: the question is written knowing it."""
    import json

    gen = gen_for(tmp_path)
    llm = ScriptedLLM(Model())
    asyncio.run(gen.produce(0, GenContext(llm=llm, seed=0)))
    req = llm.requests[0]
    assert list(req.json_schema["properties"]) == ["answer", "question"]
    shown = [json.loads(m["content"]) for m in req.messages if m["role"] == "assistant"]
    assert shown and all(list(o)[:2] == ["answer", "question"] for o in shown)


def test_one_name_from_the_worked_examples_is_enough_to_tell_a_copy(tmp_path):
    """"Harbor County" is in a worked example's passage, not in the pool's documents."""
    from synthloom.generators.qa_options import distinctive_terms

    gen = gen_for(tmp_path)
    out = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(Model(
        question="How many locker rooms are there in Harbor County?")), seed=0)))
    assert [r.reason for r in out] == ["copies_example"] * 3
    assert "harbor, county" in out[0].detail
    out = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(Model(
        question="Can I print on a 3d printer at the pool?")), seed=0)))
    assert out[0].reason == "copies_example" and "3d" in out[0].detail
    # generic words of the examples, a weekday and a name the knowledge base has are no copies
    for question in ["How late can I rent a towel?", "Can I swim on Saturday before 8:00?",
                     "Do the lockers take a coin?", "Is this the only pool with lockers in the county?"]:
        out = asyncio.run(gen.produce(0, GenContext(llm=ScriptedLLM(Model(question=question)), seed=0)))
        assert isinstance(out[0], Record), out
    assert distinctive_terms(["# Harbor news\n\nThe Eastside branch opens on Monday. Bring a 3D model."]) == {
        "eastside", "3d"}
    (tmp_path / "harbor.md").write_text("# Harbor County pools\n\nHarbor County runs two pools with locker rooms "
                                        "for swimmers and their families.\n")
    out = asyncio.run(gen_for(tmp_path).produce(0, GenContext(llm=ScriptedLLM(Model(
        question="How many locker rooms are there in Harbor County?")), seed=0)))
    assert not any(getattr(r, "reason", None) == "copies_example" for r in out)


def test_the_cli_says_when_the_count_is_above_what_the_knowledge_base_gives(tmp_path, monkeypatch, caplog):
    """`generate qa -n 12` on five askable sentences (seven distinct pairs): said before the first call, kept in
    the manifest and the report; the used-up slots cost no call."""
    import json

    from typer.testing import CliRunner

    import synthloom.llm.factory as factory
    from synthloom.cli import app

    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "pool.md").write_text(KB_TEXT)
    llm = ScriptedLLM(Model())
    monkeypatch.setattr(factory, "build_llm", lambda models: llm)
    out = tmp_path / "out"
    with caplog.at_level("WARNING"):
        r = CliRunner().invoke(app, ["generate", "qa", "--docs", str(tmp_path / "kb"), "-n", "12", "-o", str(out),
                                     "--kinds", "factual=1", "--no-judge", "--max-attempts", "20",
                                     "--checks", "readable,complete", "--concurrency", "1"])
    note = "a count of 12 asks for about 12 factual pairs, but the knowledge base gives at most 7 distinct ones"
    assert note in caplog.text
    assert r.exit_code == 1 and "7" in r.output  # short of the count, as the note said
    assert len((out / "data.jsonl").read_text().splitlines()) == 7
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(note in n for n in manifest["generator"]["notes"])
    from synthloom.export.report import build_report
    from synthloom.export.report_md import render_markdown

    assert note in render_markdown(build_report(out, embedder=None))
    assert len(llm.requests) == 7


def multi_hop_gen(tmp_path, phrasing):
    (tmp_path / "pool.md").write_text(KB_TEXT)
    (tmp_path / "towels.md").write_text("# Towels and lockers\n\nTowels rented at the desk are washed every night. "
                                        "Lockers must be emptied before the pool closes each evening.\n")
    return build_generator(QATechnique.model_validate(
        {"technique": "qa", "docs": str(tmp_path), "kinds": {"multi_hop": 1}, "judge": False,
         "min_chunk_chars": 50, "phrasings": [phrasing]}), Path("."))


def test_yes_no_answers_are_offered_only_for_a_yes_no_question(tmp_path):
    import re

    llm = ScriptedLLM(Model(question="Can I rent a towel at the desk?"))
    out = asyncio.run(multi_hop_gen(tmp_path, "a yes/no question").produce(0, GenContext(llm=llm, seed=0)))
    schema = llm.requests[0].json_schema["properties"]
    assert schema["answer"]["enum"] and all(a.startswith(("Yes: ", "No: ")) for a in schema["answer"]["enum"])
    assert re.search(schema["question"]["pattern"], "Can I rent a towel at the desk?")
    assert not re.search(schema["question"]["pattern"], "Where can I rent a towel at the desk?")
    assert isinstance(out[0], Record) and out[0].data["answer"].startswith(("Yes: ", "No: "))

    llm = ScriptedLLM(Model(question="How are towels at the desk washed?"))
    (tmp_path / "how").mkdir()
    out = asyncio.run(multi_hop_gen(tmp_path / "how", "a how question").produce(0, GenContext(llm=llm, seed=0)))
    enum = llm.requests[0].json_schema["properties"]["answer"]["enum"]
    assert enum and not any(a.startswith(("Yes", "No")) for a in enum)
    assert isinstance(out[0], Record)


def test_a_yes_no_answer_to_another_form_of_question_is_rejected(tmp_path):
    for folder, question, answer, why in [
            ("a", "How are towels at the desk washed?", "Yes: towels rented at the desk are washed every night.",
             "a Yes:/No: answer to a question that is not yes/no"),
            ("b", "Can I keep towels from the desk overnight?", None, "a yes/no question answered without yes or no")]:
        (tmp_path / folder).mkdir()
        out = asyncio.run(multi_hop_gen(tmp_path / folder, "a how question").produce(0, GenContext(
            llm=ScriptedLLM(Model(question=question, answer=answer)), seed=0)))
        assert [r.reason for r in out] == ["answer_misfits_question"] * 3, out
        assert why in out[0].detail
