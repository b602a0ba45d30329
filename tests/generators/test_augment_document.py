"""augment's document form: the source row's label over its real rows, the source last, one more line to write."""
import asyncio
import json
from pathlib import Path

import pytest

from synthloom.engine import RunStore, arun_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from tests.fakes import ScriptedLLM

REAL = [{"text": "Is the 7:40 crossing running today or is it cancelled?", "label": "timetable"},
        {"text": "what time is the last sailing back on sundays?", "label": "timetable"},
        {"text": "how often do boats go over in the afternoon, every hour?", "label": "timetable"},
        {"text": "I left a blue rucksack under a seat on the 3pm boat, has anyone handed it in?", "label": "lost_property"},
        {"text": "my daughter dropped her glasses on the top deck, did the crew find them?", "label": "lost_property"}]
HEADER = "Messages sorted by what the writer wants. Each line is one real message, copied as the person wrote it.\n\n"


class BaseModelDouble(ScriptedLLM):
    """A scripted model that says it continues plain text, as the bundled base model does."""

    prompt_style = "completion"


def last_row(prompt: str) -> str:
    return prompt.rsplit("\n- ", 1)[1].removesuffix("\n-")


def respond(req):
    if req.purpose == "verify":  # the checker recognises the label from a keyword
        return {"label": "lost_property" if "deck" in req.messages[-1]["content"] or "boat" in
                req.messages[-1]["content"] else "timetable"}
    if req.prompt is not None:  # the document form: the model writes the rest of the "-" line
        return " Honestly, " + " ".join(last_row(req.prompt).split()[::-1]) + "."
    text = req.messages[-1]["content"].removeprefix("Original text: ")
    return {"text": "Honestly, " + " ".join(text.split()[::-1]) + "."}


def run(tmp_path, llm, count=4, **gen):
    data = tmp_path / "real.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in REAL))
    recipe = recipe_from_dict({"count": count, "engine": {"max_attempts": 30},
                               "generate": {"technique": "augment", "data": str(data), **gen}}, "t")
    summary = asyncio.run(arun_recipe(recipe, base_dir=tmp_path, output=tmp_path / "out", llm=llm))
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        recs = store.accepted_records(store.run_info(None)["run_id"])
    return summary, recs


def test_the_document_lists_the_labels_real_rows_with_the_source_row_last(tmp_path):
    llm = BaseModelDouble(respond)
    summary, recs = run(tmp_path, llm, operations=["paraphrase", "typos"])
    assert summary.complete and len(recs) == 4
    asks = [q for q in llm.requests if q.purpose != "verify"]
    assert asks and all(q.prompt is not None and q.messages is None and q.json_schema is None for q in asks)
    for q in asks:
        assert q.stop == ("\n",) and q.prompt.endswith("\n-")  # no space after the dash: the model writes it
    # a lost_property source row: its label's other real row, then the source row, then the open line
    prompts = {last_row(q.prompt): q.prompt for q in asks}
    assert prompts[REAL[4]["text"]] == (HEADER + "## lost property\n- " + REAL[3]["text"] + "\n- " + REAL[4]["text"]
                                        + "\n-")
    for r in recs:
        src = REAL[r.meta["source_row"] - 1]
        assert r.data["label"] == src["label"] and r.data["text"] != src["text"]
        assert r.meta["prompt_form"] == "document" and r.meta["template"] == "augment_document"
        assert r.data["text"].startswith("Honestly,")  # the line as written, its leading space gone


def test_descriptions_and_the_task_head_the_document_and_register_keeps_the_chat_form(tmp_path):
    labels = {"task": "what a ferry passenger asks about",
              "labels": [{"name": "timetable", "description": "Sailing times and cancellations."},
                         {"name": "lost_property", "description": "Something left on board."}]}
    llm = BaseModelDouble(respond)
    _, recs = run(tmp_path, llm, count=6, labels=labels, operations=["entities", "register"])
    docs = [q.prompt for q in llm.requests if q.prompt is not None]
    assert docs and all(p.startswith("Messages sorted by what a ferry passenger asks about. ") for p in docs)
    assert all("\n## Sailing times and cancellations.\n" in p or "\n## Something left on board.\n" in p for p in docs)
    forms = {(r.meta["operation"].split(":")[0], r.meta["prompt_form"]) for r in recs}
    assert forms == {("entities", "document"), ("register", "chat")}


def test_auto_is_the_chat_form_for_a_chat_model_and_the_recipe_can_force_either(tmp_path):
    for sub, llm, form, want in (("chat", ScriptedLLM(respond), "auto", "chat"),
                                 ("forced", ScriptedLLM(respond), "document", "document"),
                                 ("base", BaseModelDouble(respond), "chat", "chat")):
        (tmp_path / sub).mkdir()
        _, recs = run(tmp_path / sub, llm, count=2, operations=["paraphrase"], prompt_form=form)
        assert recs and {r.meta["prompt_form"] for r in recs} == {want}
        asks = [q for q in llm.requests if q.purpose != "verify"]
        assert all((q.prompt is not None) == (want == "document") for q in asks)


def test_without_operations_a_base_writer_gets_those_the_document_form_does_and_a_chat_model_all_five(tmp_path):
    """register and length have no document form and read badly in the chat form on a base model, so a recipe
    that names no operations gets paraphrase, entities and typos there; a chat model gets the five defaults."""
    for sub, llm, want in (("base", BaseModelDouble(respond), {"paraphrase", "entities", "typos"}),
                           ("chat", ScriptedLLM(respond), {"paraphrase", "register", "length", "entities", "typos"})):
        (tmp_path / sub).mkdir()
        summary, recs = run(tmp_path / sub, llm, count=10)
        with RunStore(tmp_path / sub / "out" / "store.sqlite") as store:
            tried = {r.meta.get("operation", "").split(":")[0] for r in store.rejections()}
        assert {r.meta["operation"].split(":")[0] for r in recs} | tried == want, sub
    # named operations are what the recipe says, whatever the writer
    (tmp_path / "named").mkdir()
    _, recs = run(tmp_path / "named", BaseModelDouble(respond), count=2, operations=["register"])
    assert {r.meta["operation"] for r in recs} == {"register"} and {r.meta["prompt_form"] for r in recs} == {"chat"}


@pytest.mark.model
def test_document_form_on_the_bundled_model_writes_new_messages_of_the_source_rows_label(tmp_path):
    from typer.testing import CliRunner

    from synthloom.cli import app

    data = Path(__file__).resolve().parents[2] / "benchmarks/data/ferry_real.jsonl"
    labels = data.with_name("ferry_labels.yaml")
    out = tmp_path / "aug"
    res = CliRunner().invoke(app, ["generate", "augment", "--data", str(data), "--labels", str(labels), "-n", "3",
                                   "--operations", "paraphrase", "--verify", "reject", "-o", str(out), "--seed", "3"])
    assert res.exit_code == 0, res.output
    real = [json.loads(line) for line in data.read_text().splitlines()]
    with RunStore(out / "store.sqlite") as store:
        recs = store.accepted_records()
    assert len(recs) == 3
    for r in recs:
        src = real[r.meta["source_row"] - 1]
        assert r.meta["prompt_form"] == "document"
        # the label is the source row's, and the text's nearest label (its real rows' mean, MiniLM) is that label
        assert r.data["label"] == src["label"] == r.meta["scores"]["label_nearest"]
        assert r.data["text"] not in {x["text"] for x in real} and r.meta["scores"]["real_overlap"] <= 0.6
        assert r.meta["scores"]["source_cosine"] >= 0.4 and "\n" not in r.data["text"]
        assert not r.data["text"].startswith(("-", " ")) and "##" not in r.data["text"]  # not the list's markup
        assert "Messages sorted" not in r.data["text"]
