"""technique: classification with a scripted model: label first, exact counts, hard cases, verification."""
import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from synthloom.engine import RunStore, arun_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import InputFileError, RecipeError
from tests.fakes import ScriptedLLM

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LABELS = [{"name": "refund", "description": "wants money back", "examples": ["Refund me for the broken kettle."]},
          {"name": "cancel", "description": "wants to stop an order", "examples": ["Cancel my order 12 please."]},
          {"name": "rare", "description": "asks about gift cards"}]


def _label_of_prompt(req) -> str:
    return req.messages[-1]["content"].split("with label ", 1)[1].split()[0].rstrip(".")


def writer(verdict=None):
    """Writes a distinct text naming the label it was asked for; the checker answers `verdict(label)`."""
    seen = Counter()

    def respond(req):
        if req.purpose == "verify":
            text = req.messages[-1]["content"]
            asked = text.split("[", 1)[1].split("]", 1)[0]
            return {"label": verdict(asked) if verdict else asked}
        label = _label_of_prompt(req)
        seen[label] += 1
        return {"text": f"Customer message [{label}] number {seen[label]} with some words in it."}
    return respond


def run(gen: dict, count: int, tmp_path, responder, quality=None, concurrency=1, checks=None, llm=None):
    data = {"count": count, "generate": {"technique": "classification", **gen},
            "quality": quality or [{"gate": "dedup"}], "engine": {"concurrency": concurrency}}
    if checks is not None:
        data["checks"] = checks
    recipe = recipe_from_dict(data, "t")
    llm = llm or ScriptedLLM(responder)
    summary = asyncio.run(arun_recipe(recipe, base_dir=EXAMPLES, output=tmp_path / "out", llm=llm))
    rows = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    return summary, rows, llm


def test_explicit_counts_are_met_exactly_rare_label_included(tmp_path):
    summary, rows, llm = run({"labels": LABELS, "distribution": {"refund": 6, "cancel": 3, "rare": 1}}, 10, tmp_path,
                             writer(), concurrency=3)
    assert summary.complete and Counter(r["label"] for r in rows) == {"refund": 6, "cancel": 3, "rare": 1}
    assert all(set(r) == {"text", "label"} and f"[{r['label']}]" in r["text"] for r in rows)


def test_the_label_is_in_the_prompt_and_only_the_text_is_decoded(tmp_path):
    _, rows, llm = run({"labels": LABELS, "attributes": {"tone": ["angry", "calm"]}}, 4, tmp_path, writer())
    req = next(r for r in llm.requests if r.purpose != "verify")
    assert list(req.json_schema["properties"]) == ["text"]
    label = _label_of_prompt(req)
    desc = {x["name"]: x["description"] for x in LABELS}[label]
    assert f'Label "{label}": {desc}' in req.messages[-1]["content"]
    assert any(v in req.messages[-1]["content"] for v in ("angry", "calm"))
    # the checker never sees the intended label
    check = next(r for r in llm.requests if r.purpose == "verify")
    assert "with label" not in json.dumps(check.messages) and check.temperature == 0


def test_lineage_holds_the_sampled_axes_and_the_target_label(tmp_path):
    run({"labels": LABELS, "attributes": {"tone": ["angry", "calm"]}}, 4, tmp_path, writer())
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        recs = store.accepted_records(store.run_info(None)["run_id"])
    assert all(r.meta["attributes"]["tone"] in ("angry", "calm") and r.meta["target_label"] == r.data["label"]
               for r in recs)
    assert {r.meta["attributes"]["tone"] for r in recs} == {"angry", "calm"}


def test_disagreements_are_rejected_or_flagged(tmp_path):
    always_cancel = writer(lambda asked: "cancel")
    # without the nearest-label check the model checker decides (with it, the bundled checker only flags)
    summary, rows, _ = run({"labels": LABELS, "distribution": {"refund": 2, "cancel": 2, "rare": 0}}, 4, tmp_path,
                           always_cancel, quality=[{"gate": "dedup"}], checks=["readable", "complete"])
    assert not summary.complete  # refund never agrees: budget ends
    assert Counter(r["label"] for r in rows) == {"cancel": 2}
    assert any(reason == "label_mismatch" for _, reason, _ in summary.rejections)
    summary, rows, _ = run({"labels": LABELS, "distribution": {"refund": 2, "cancel": 2, "rare": 0},
                            "verify": {"action": "flag"}}, 4, tmp_path / "flag", always_cancel)
    assert summary.complete and Counter(r["label"] for r in rows) == {"refund": 2, "cancel": 2}
    with RunStore(tmp_path / "flag" / "out" / "store.sqlite") as store:
        recs = store.accepted_records(store.run_info(None)["run_id"])
    flagged = [r for r in recs if r.meta.get("label_flagged")]
    assert {r.data["label"] for r in flagged} == {"refund"} and flagged[0].meta["scores"]["label_predicted"] == "cancel"


def test_boundary_pairs_and_out_of_scope_are_written_as_hard_cases(tmp_path):
    _, _, llm = run({"labels": LABELS, "hard_cases": {"boundary": [["refund", "cancel"]], "boundary_share": 1.0,
                                                      "out_of_scope": "rare"}}, 6, tmp_path, writer())
    asks = [r for r in llm.requests if r.purpose != "verify"]
    refund = [r for r in asks if _label_of_prompt(r) == "refund"]
    assert refund and all('words typical of "cancel"' in r.messages[-1]["content"] for r in refund)
    rare = [r for r in asks if _label_of_prompt(r) == "rare"]
    assert rare and all('not "refund"' in r.messages[0]["content"] for r in rare)


def test_a_copy_of_a_label_example_or_a_cut_text_is_rejected(tmp_path):
    def copier(req):
        if req.purpose == "verify":
            return {"label": "refund"}
        return {"text": "Refund me for the broken kettle."} if len(req.messages) > 2 else {"text": "x" * 400}
    summary, rows, _ = run({"labels": LABELS, "distribution": {"refund": 1, "cancel": 0, "rare": 0},
                            "max_chars": 400}, 1, tmp_path, copier, quality=[{"gate": "dedup"}])
    reasons = {reason for _, reason, _ in summary.rejections}
    assert "copied_example" in reasons and not rows


def test_multi_label_rows_carry_a_list(tmp_path):
    def respond(req):
        if req.purpose == "verify":
            return {"labels": ["refund"]}
        return {"text": f"message {len(req.messages[-1]['content'])} {req.seed} words words"}
    _, rows, _ = run({"labels": LABELS, "multi_label": True, "verify": {"action": "flag"}}, 6, tmp_path, respond)
    assert all(isinstance(r["label"], list) and r["label"] for r in rows)


@pytest.mark.parametrize("gen, count, error, message", [
    ({"labels": LABELS, "distribution": {"refund": 5, "cancel": 1, "rare": 1}}, 10, RecipeError,
     "the counts add up to 7, but count is 10"),
    ({"labels": LABELS[:1]}, 3, InputFileError, "at least two labels"),
    ({"labels": LABELS, "hard_cases": {"boundary": [["refund", "nope"]]}}, 3, RecipeError, "'nope' is not a label"),
    ({"labels": "missing.yaml"}, 3, InputFileError, "missing.yaml: label set not found"),
])
def test_bad_input_is_one_clear_error(tmp_path, gen, count, error, message):
    with pytest.raises(error, match=message):
        run(gen, count, tmp_path, writer())


def test_the_writer_sees_label_names_as_words_and_an_identifier_in_the_text_is_rejected(tmp_path):
    labels = [{"name": "gift_card", "description": "asks about gift cards"}, {"name": "refund", "description": "money back"}]

    def respond(req):
        if req.purpose == "verify":
            return {"label": "gift_card"}
        assert "gift_card" not in req.messages[-1]["content"] and "gift card" in req.messages[-1]["content"]
        return {"text": "My question is about gift_card balances, please help me."}
    summary, rows, _ = run({"labels": labels, "distribution": {"gift_card": 1, "refund": 0}}, 1, tmp_path, respond)
    assert not rows and ("filter", "label_name_in_text") in [(s, r) for s, r, _ in summary.rejections]


def test_a_text_that_repeats_the_writers_instructions_is_rejected(tmp_path):
    def parrot(req):
        if req.purpose == "verify":
            return {"label": req.messages[-1]["content"].split("[", 1)[1].split("]", 1)[0]}
        label = _label_of_prompt(req)
        return {"text": f"[{label}] in their own words, about their own situation."}

    summary, rows, _ = run({"labels": LABELS, "attributes": {}}, 2, tmp_path, parrot, checks=[])
    assert not rows and any(reason == "copied_prompt" for _, reason, _ in summary.rejections)


def test_a_label_without_examples_is_shown_borrowed_shots(tmp_path):
    """With fewer than three examples of its own, a label's prompt shows worked examples of other domains (a
    person's voice, a description paraphrased); a copy of one is rejected like a copy of an example."""
    from synthloom.generators.classification import BORROWED_SHOTS

    labels = [{"name": "refund", "description": "wants money back"}, {"name": "cancel", "description": "stop it"}]
    _, _, llm = run({"labels": labels}, 4, tmp_path, writer())
    borrowed = {json.dumps({"text": b["text"]}) for b in BORROWED_SHOTS}
    for req in [r for r in llm.requests if r.purpose != "verify"]:
        shown = [m["content"] for m in req.messages if m["role"] == "assistant"]
        assert len(shown) == 3 and all(s in borrowed for s in shown)
        # each shot's input names its own label and description, as the final input does
        assert all('Label "' in m["content"] for m in req.messages if m["role"] == "user")
    copy = BORROWED_SHOTS[0]["text"]
    summary, rows, _ = run({"labels": labels}, 2, tmp_path / "copy",
                           lambda r: {"label": "refund"} if r.purpose == "verify" else {"text": copy}, checks=[])
    assert not rows and {r for _s, r, _n in summary.rejections} == {"copied_example"}
    # a label with three examples of its own shows those, nothing borrowed
    _, _, llm = run({"labels": [{**x, "examples": [f"{x['name']} one here", f"{x['name']} two here",
                                                   f"{x['name']} three here"]} for x in labels]}, 2,
                    tmp_path / "own", writer())
    req = next(r for r in llm.requests if r.purpose != "verify")
    assert not any(m["content"] in borrowed for m in req.messages)


def test_max_sentences_rejects_a_longer_text(tmp_path):
    """With `max_sentences: 2` a text of three sentences is rejected as too_long; without it (the default) it is
    kept."""
    from synthloom.generators.classification import sentences

    assert [sentences(t) for t in ("no stop at all", "One. Two!", "What?! Really... ok.", "at 8 p.m.")] == [1, 2, 3, 1]
    three = "I booked a lesson. It was fine. Now I want another one."
    answer = lambda r: {"label": "refund"} if r.purpose == "verify" else {"text": three}  # noqa: E731
    labels = [{"name": "refund", "description": "wants money back"}, {"name": "cancel", "description": "stop it"}]
    gen = {"labels": labels, "distribution": {"refund": 1, "cancel": 0}}
    summary, rows, _ = run({**gen, "max_sentences": 2}, 1, tmp_path / "two", answer, checks=[])
    assert not rows and {r for _s, r, _n in summary.rejections} == {"too_long"}
    for extra in ({}, {"max_sentences": 3}):
        _, rows, _ = run({**gen, **extra}, 1, tmp_path / f"n{len(extra)}", answer, checks=[])
        assert [r["text"] for r in rows] == [three]


def test_no_hand_written_real_message_is_too_long():
    """The limit must not reject what customers write: the benchmarks' hand-written messages (three domains)."""
    from synthloom.generators.classification import sentences

    data = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
    texts = [json.loads(x)["text"] for f in ("library_test.jsonl", "vet_test.jsonl", "driving_test.jsonl")
             for x in (data / f).read_text().splitlines() if x.strip()]
    assert len(texts) > 500 and max(map(sentences, texts)) <= 2


def _rejected(tmp_path) -> list:
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        return list(store.rejections())


REAL = Path(__file__).resolve().parents[2] / "benchmarks" / "data"


def _real_texts() -> list[str]:
    return [json.loads(x)["text"] for f in ("library_test.jsonl", "vet_test.jsonl", "driving_test.jsonl")
            for x in (REAL / f).read_text().splitlines() if x.strip()]


def test_a_text_that_repeats_the_request_line_is_rejected_and_no_real_message_is(tmp_path):
    """The request line's own words ("Write one message with label X. Make it casual.") are instructions, not a
    message; the 561 hand-written real messages of three domains hold none of them."""
    from synthloom.config.classify import DEFAULT_AXES
    from synthloom.generators.classification import instruction_phrases, repeated_phrase
    from synthloom.prompts import load

    leaks = {"Send me a message with label complaint and a small message of about 10-15 words": "message with label",
             "hi there, make it casual, my kettle broke and I want my money": "make it casual",
             "The kettle broke but it is clearly a refund I am after here": "but it is clearly"}
    phrases = instruction_phrases(load("classify_user"), DEFAULT_AXES)
    assert {t: " ".join(repeated_phrase(t, phrases) or ()) for t in leaks} == leaks
    assert [t for t in _real_texts() if repeated_phrase(t, phrases)] == []
    for i, (text, phrase) in enumerate(leaks.items()):
        answer = lambda r, t=text: {"label": "refund"} if r.purpose == "verify" else {"text": t}  # noqa: E731
        summary, rows, _ = run({"labels": LABELS, "distribution": {"refund": 1, "cancel": 0, "rare": 0}}, 1,
                               tmp_path / str(i), answer, checks=[])
        details = {(r.reason, r.detail) for r in _rejected(tmp_path / str(i))}
        assert not rows and details and all(reason == "copied_prompt" and phrase in detail
                                            for reason, detail in details), details


PIANO = [{"name": "book_tuning", "description": "the customer wants a piano tuned",
          "examples": ["Can I book a tuning for the piano in the church hall on a Saturday in May?",
                       "our upright is badly out of tune, when could someone come round"]},
         {"name": "repair", "description": "something on the piano is broken",
          "examples": ["The middle C key sticks down every time I play it.", "a pedal fell off this morning"]}]


def test_a_near_copy_of_an_example_is_rejected_naming_it_and_no_real_message_is(tmp_path):
    """One or two words changed keep most of an example's words in order, while breaking most word 4-grams:
    the near copy below shares 15% of its 4-grams with the example (under the 50% copy share) and 79% of the
    example's words in order."""
    from synthloom.generators.classification import BORROWED_SHOTS, EXAMPLE_IN_ORDER, near_copy

    near = "Can I book a tuning for the piano in the church hall, any Saturday in May?"
    share, example = near_copy(near, [ex for lab in PIANO for ex in lab["examples"]])
    assert share >= EXAMPLE_IN_ORDER and example == PIANO[0]["examples"][0]
    answer = lambda r: {"label": "book_tuning"} if r.purpose == "verify" else {"text": near}  # noqa: E731
    summary, rows, _ = run({"labels": PIANO, "distribution": {"book_tuning": 1, "repair": 0}}, 1, tmp_path, answer,
                           checks=[])
    rejected = {(r.reason, "church hall on a Saturday" in r.detail) for r in _rejected(tmp_path)}
    assert not rows and rejected == {("copied_example", True)}
    # real messages against the examples they could be mistaken for copies of: the driving school's and the
    # borrowed worked examples, all well under the bar (the highest is 0.50)
    import yaml

    driving = yaml.safe_load((REAL / "driving_labels.yaml").read_text())
    examples = [ex for lab in driving["labels"] for ex in lab.get("examples") or []] + [b["text"] for b in BORROWED_SHOTS]
    assert max(near_copy(t, examples)[0] for t in _real_texts()) < EXAMPLE_IN_ORDER - 0.1


class FakeRanker:
    """Scores a text by the number in it ("... number 3 ..." -> 3.0), against a fixed other label."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def score(self, text: str, own: str) -> tuple[float, str]:
        self.calls.append((text, own))
        return float(text.split("number ", 1)[1].split()[0]), "cancel"


def test_best_of_keeps_the_highest_scored_candidate_and_rejects_the_others_naming_its_score(tmp_path, monkeypatch):
    import synthloom.quality.text_fit as text_fit

    ranker = FakeRanker()
    monkeypatch.setattr(text_fit, "LabelPmiGate", lambda *a, **k: ranker)
    numbers = {}  # per seed a number: the writer's k candidates of a slot get different ones

    def respond(req):
        if req.purpose == "verify":
            return {"label": "refund"}
        n = numbers.setdefault(req.seed, len(numbers) % 3 + 1)
        text = f"Refund the kettle please, number {n} on seed {req.seed}"
        return {"text": "Refund me for the broken kettle." if n == 2 else text}  # candidate 2 copies an example

    summary, rows, llm = run({"labels": LABELS, "distribution": {"refund": 2, "cancel": 0, "rare": 0}, "best_of": 3},
                             2, tmp_path, respond, checks=["readable", "complete"])
    asks = [r for r in llm.requests if r.purpose != "verify"]
    assert summary.complete and len(rows) == 2 and len(asks) == 6  # three candidates per slot
    assert len({r.seed for r in asks}) == 6 and len({json.dumps(r.messages) for r in asks}) == 2  # a prompt per slot
    assert all("number 3" in r["text"] for r in rows)  # the best of each slot: 3 beats 1, the copy is out
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        recs = store.accepted_records()
        rejected = list(store.rejections())
    assert all(r.meta["scores"]["label_pmi"] == 3.0 and r.meta["scores"]["best_of_rank"] == 1 for r in recs)
    outranked = [r for r in rejected if r.reason == "best_of:outranked"]
    copies = [r for r in rejected if r.reason == "copied_example"]
    assert len(outranked) == 2 and len(copies) == 2  # every candidate that is not kept is explained
    assert {r.stage for r in outranked} == {"filter"}  # counted where the funnel counts dropped candidates
    for r in outranked:
        kept = next(x for x in recs if x.meta["slot"] == r.meta["slot"])
        assert r.meta["scores"] == {"label_pmi": 1.0, "best_of_rank": 2}
        assert "label PMI +1.000 against 'cancel', ranked below the kept candidate's +3.000" in r.detail
        assert kept.data["text"][:40] in r.detail
    assert len(ranker.calls) == 4 and {own for _t, own in ranker.calls} == {"refund"}  # copies are not scored


def test_best_of_one_writes_one_candidate_and_scores_nothing(tmp_path, monkeypatch):
    import synthloom.quality.text_fit as text_fit

    monkeypatch.setattr(text_fit, "LabelPmiGate", lambda *a, **k: pytest.fail("best_of 1 ranks nothing"))
    summary, rows, llm = run({"labels": LABELS, "distribution": {"refund": 2, "cancel": 1, "rare": 0}}, 3, tmp_path,
                             writer())
    assert summary.complete and len([r for r in llm.requests if r.purpose != "verify"]) == 3
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        assert not any("best_of_rank" in r.meta.get("scores", {}) for r in store.accepted_records())


@pytest.mark.parametrize("best_of", [0, 17])
def test_best_of_out_of_range_is_a_clear_error(best_of):
    with pytest.raises(RecipeError, match="best_of"):
        recipe_from_dict({"count": 2, "generate": {"technique": "classification", "labels": LABELS,
                                                   "best_of": best_of}}, "t")


class BaseWriter(ScriptedLLM):
    """A writer that says it is a base model (llm/render.style_of): classification asks it with a document."""

    prompt_style = "completion"


def document_writer():
    """Continues the document with one line about the last section's description; the checker agrees."""
    seen = Counter()
    names = {f"{x['name'].capitalize()}: {x['description']}": x["name"] for x in LABELS}

    def respond(req):
        if req.purpose == "verify":
            asked = req.messages[-1]["content"].split("[", 1)[1].split("]", 1)[0]
            return {"label": asked}
        heading = req.prompt.rsplit("\n## ", 1)[1].split("\n", 1)[0]
        seen[heading] += 1
        return f" hello, this one is about [{names[heading]}] number {seen[heading]} and more words"
    return respond


def test_a_base_model_is_asked_with_a_document_it_continues_by_one_line(tmp_path):
    """A base model writes messages by continuing a list of messages under their labels' names and descriptions: the
    target label's section last, its open line ending on "-" (a trailing space made the model write numbers),
    the other labels' examples in their own sections; raw text up to the newline, no JSON."""
    summary, rows, llm = run({"labels": LABELS, "distribution": {"refund": 2, "cancel": 2, "rare": 2}}, 6,
                             tmp_path, document_writer(), llm=BaseWriter(document_writer()))
    assert summary.complete and Counter(r["label"] for r in rows) == {"refund": 2, "cancel": 2, "rare": 2}
    written = [r for r in llm.requests if r.purpose != "verify"]
    assert written and all(r.messages is None and r.json_schema is None and r.stop == ("\n",) for r in written)
    for req in written:
        doc = req.prompt
        assert doc.endswith("\n-") and "Messages sorted by" in doc
        # the target label's section comes last: its description, its own example, the open line
        label = next(x for x in LABELS if doc.endswith(f"\n## {x['name'].capitalize()}: {x['description']}\n" + "".join(
            f"- {e}\n" for e in x.get("examples", [])) + "-"))
        for other in (x for x in LABELS if x is not label and x.get("examples")):
            assert f": {other['description']}\n- {other['examples'][0]}\n" in doc  # its example, in its section
        # two example lines in the label set: documents of other domains come first, the label set's last
        assert doc.index("Messages sorted by") < doc.rindex("Messages sorted by")
    # the line is the text, without the list mark; lineage says which form wrote it
    assert {r["text"] for r in rows} >= {"hello, this one is about [rare] number 1 and more words"}
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        recs = store.accepted_records()
    assert {r.meta["prompt_form"] for r in recs} == {"document"} and all(r.meta["attributes"] == {} for r in recs)


def test_attribute_axes_or_a_chat_model_keep_the_chat_form(tmp_path):
    """A document cannot say "casual" or "two sentences" without the writer copying it: attribute axes keep
    the instructions and JSON turns; so does `prompt_form: chat`, and a writer that is not a base model."""
    for gen, llm, where in (({"attributes": {"tone": ["angry", "calm"]}}, BaseWriter(writer()), "axes"),
                            ({"prompt_form": "chat"}, BaseWriter(writer()), "forced"),
                            ({}, ScriptedLLM(writer()), "chat model")):
        summary, rows, used = run({"labels": LABELS, **gen}, 3, tmp_path / where.replace(" ", "_"), writer(), llm=llm)
        written = [r for r in used.requests if r.purpose != "verify"]
        assert summary.complete and all(r.prompt is None and r.json_schema for r in written), where
    # forced the other way, a chat model gets the document too
    summary, rows, used = run({"labels": LABELS, "prompt_form": "document"}, 3, tmp_path / "doc",
                              document_writer())
    assert summary.complete and all(r.prompt for r in used.requests if r.purpose != "verify")


def test_a_document_line_cut_by_max_tokens_or_a_failed_call_is_rejected_as_such():
    from synthloom.generators.classify_document import read_line
    from synthloom.llm.types import GenerationResult

    value, rej = read_line(GenerationResult(text=" can i book a slot for my", finish_reason="length",
                                            completion_tokens=160), {})
    assert value is None and rej.reason == "truncated" and "160 tokens" in rej.detail
    value, rej = read_line(GenerationResult(text="", finish_reason="error", error="connection refused"), {})
    assert value is None and rej.reason == "backend_error"
    value, rej = read_line(GenerationResult(text=" - is my bike ready? "), {})
    assert value == {"text": "is my bike ready?"} and rej is None


def test_a_text_that_opens_with_its_heading_is_rejected_and_no_real_message_does(tmp_path):
    """The document form heads each section "Prices: <description>"; a line that opens with a label's name as a
    heading ("price: I'm looking for a car ...") copied it. None of the 561 hand-written messages does, with
    their own label sets' names."""
    from synthloom.generators.classification import heading_prefix
    from synthloom.sources.labels import load_label_set

    for labels, test in (("library_labels.yaml", "library_test.jsonl"), ("vet_labels.yaml", "vet_test.jsonl"),
                         ("driving_labels.yaml", "driving_test.jsonl")):
        names = load_label_set(labels, REAL).names
        texts = [json.loads(x)["text"] for x in (REAL / test).read_text().splitlines() if x.strip()]
        assert [t for t in texts if heading_prefix(t, names)] == [], labels
    names = load_label_set("driving_labels.yaml", REAL).names
    assert heading_prefix("price: I'm looking for a car for my son", names) == "prices"  # plural aside
    assert heading_prefix("Book lesson - can i come on tuesday", names) == "book_lesson"
    assert heading_prefix("hi: what do lessons cost", names) is None
    copy = "Refund: I want my money back for the kettle please"
    summary, rows, _ = run({"labels": LABELS, "distribution": {"refund": 1, "cancel": 0, "rare": 0}}, 1, tmp_path,
                           lambda r: {"label": "refund"} if r.purpose == "verify" else {"text": copy}, checks=[])
    assert not rows and {(r.reason, "'refund'" in r.detail) for r in _rejected(tmp_path)} == {("copied_prompt", True)}


def test_a_text_that_opens_like_the_descriptions_describes_the_person_and_no_real_message_does(tmp_path):
    """Descriptions written as "The learner wants ..." describe the person; a text that opens the same way
    ("The student has enrolled in the course and wants to add or drop one.") describes them too instead of
    being their message. None of the 561 hand-written messages opens like its label set's descriptions, and
    an opening a message uses ("I want") is never taken from a description."""
    from synthloom.generators.classify_text import describes_writer, description_openings
    from synthloom.sources.labels import load_label_set

    for labels, test in (("library_labels.yaml", "library_test.jsonl"), ("vet_labels.yaml", "vet_test.jsonl"),
                         ("driving_labels.yaml", "driving_test.jsonl")):
        label_set = load_label_set(labels, REAL)
        openings = description_openings([lab.description for lab in label_set.labels],
                                        [e for lab in label_set.labels for e in lab.examples])
        assert openings, labels
        texts = [json.loads(x)["text"] for x in (REAL / test).read_text().splitlines() if x.strip()]
        assert [t for t in texts if describes_writer(t, openings)] == [], labels
    openings = description_openings(["The student asks for a transcript.", "I want to pay my fees."],
                                    ["I want a refund for the course"])
    assert openings == {("the", "student")}
    assert describes_writer("The student's name is wrong on a certificate.", openings) == "the student"
    assert describes_writer("Student card lost, can you help?", openings) is None
    labels = [{**LABELS[0], "description": "The customer wants money back"}, *LABELS[1:]]
    summary, rows, _ = run({"labels": labels, "distribution": {"refund": 1, "cancel": 0, "rare": 0}}, 1, tmp_path,
                           lambda r: {"label": "refund"} if r.purpose == "verify"
                           else {"text": "The customer would like the money for a kettle back."}, checks=[])
    assert not rows and {(r.reason, "'the customer'" in r.detail) for r in _rejected(tmp_path)} == \
        {("copied_description", True)}


def test_a_short_text_that_says_a_phrase_twice_is_rejected_and_no_real_message_does(tmp_path):
    """"I'm on the wrong floor - I live on the wrong floor.": a person's message does not repeat itself. None of
    the hand-written messages of the benchmarks repeats a word 3-gram; a long text is left to the loop check."""
    from synthloom.generators.classify_text import repeats_itself

    for test in ("library_test.jsonl", "vet_test.jsonl", "driving_test.jsonl", "phone_repair_real.jsonl"):
        texts = [json.loads(x)["text"] for x in (REAL / test).read_text().splitlines() if x.strip()]
        assert texts and [t for t in texts if repeats_itself(t)] == [], test
    assert repeats_itself("I'm on the wrong floor - I live on the wrong floor.") == "on the wrong"
    assert repeats_itself("I'm sorry, I forgot my ring. I'm sorry, I forgot to ask.") == "i'm sorry i"
    review = ("The battery life is great and the screen is sharp, but after a month the battery life dropped "
              "and the charger runs hot, so I would not buy this phone again for the price they ask")
    assert repeats_itself(review) is None  # 35 words: a longer text may say a phrase twice
    said_twice = "refund me the kettle please, refund me the kettle"
    summary, rows, _ = run({"labels": LABELS, "distribution": {"refund": 1, "cancel": 0, "rare": 0}}, 1, tmp_path,
                           lambda r: {"label": "refund"} if r.purpose == "verify" else {"text": said_twice}, checks=[])
    assert not rows and {(r.reason, "'refund me the'" in r.detail) for r in _rejected(tmp_path)} == \
        {("repeats_itself", True)}
    # an example of the label set that repeats itself says it is the user's texts' way: not looked for
    labels = [{**LABELS[0], "examples": ["no no no, not this kettle: refund the kettle, not this kettle"]}, *LABELS[1:]]
    summary, rows, _ = run({"labels": labels, "distribution": {"refund": 1, "cancel": 0, "rare": 0}}, 1,
                           tmp_path / "own", lambda r: {"label": "refund"} if r.purpose == "verify"
                           else {"text": said_twice}, checks=[])
    assert [r["text"] for r in rows] == [said_twice]
