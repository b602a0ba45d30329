"""technique: augment with a scripted model: label kept, lineage names the source row, near-copies rejected."""
import asyncio
import json
from pathlib import Path

import pytest

from synthloom.engine import RunStore, arun_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import InputFileError
from tests.fakes import ScriptedLLM

REAL = [{"text": "Where is my order? It said five days and it has been nine.", "label": "order_status"},
        {"text": "I returned the dress on the second, when will I see the money?", "label": "refund"},
        {"text": "Please cancel my order, I ordered the wrong size by mistake.", "label": "cancel"}]


def write_real(tmp_path, rows=REAL, name="real.jsonl") -> Path:
    f = tmp_path / name
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


def source_of(req) -> str:
    return req.messages[-1]["content"].removeprefix("Original text: ")


def run(tmp_path, responder, count=6, checks=None, **gen):
    data = gen.pop("data", None) or str(write_real(tmp_path))
    recipe = recipe_from_dict({"count": count, "engine": {"max_attempts": 40}, **({"checks": checks} if checks is not None
                                                                                else {}),
                               "generate": {"technique": "augment", "data": data, **gen}}, "t")
    llm = ScriptedLLM(responder)
    summary = asyncio.run(arun_recipe(recipe, base_dir=tmp_path, output=tmp_path / "out", llm=llm))
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        recs = store.accepted_records(store.run_info(None)["run_id"])
    return summary, recs, llm


def rewrite(req):
    if req.purpose == "verify":  # the checker recognises the source's label from a keyword
        text = req.messages[-1]["content"]
        return {"label": "refund" if "money" in text else "cancel" if "cancel" in text else "order_status"}
    words = source_of(req).split()
    return {"text": "Honestly, " + " ".join(words[::-1]) + "."}  # ends as a text ends (the default checks)


def test_variations_keep_the_label_and_name_their_source_row(tmp_path):
    summary, recs, llm = run(tmp_path, rewrite, operations=["paraphrase", "entities", "typos"])
    assert summary.complete
    for r in recs:
        src = REAL[r.meta["source_row"] - 1]
        assert r.data["label"] == src["label"] and r.data["text"] != src["text"]
        assert r.meta["operation"] in ("paraphrase", "entities", "typos") and r.meta["scores"]["label_agrees"]
    assert {r.meta["source_row"] for r in recs} == {1, 2, 3}
    # the writer sees the label it must keep; the checker does not
    ask = next(q for q in llm.requests if q.purpose != "verify")
    assert "keep the label" in ask.messages[0]["content"]
    check = next(q for q in llm.requests if q.purpose == "verify")
    assert "keep the label" not in json.dumps(check.messages)
    assert check.messages[-1]["content"].startswith("Text: Honestly,")  # only the new text, no label


def test_a_copy_of_the_source_row_is_rejected_as_a_near_copy(tmp_path):
    summary, recs, _ = run(tmp_path, lambda req: {"label": "refund"} if req.purpose == "verify"
                           else {"text": source_of(req) + " Thanks."}, count=2)
    assert not recs and ("dedup", "near_copy_of_real") in [(s, r) for s, r, _ in summary.rejections]


def test_translate_goes_there_and_back(tmp_path):
    def respond(req):
        if req.purpose == "verify":
            return rewrite(req)
        if "into German" in req.messages[0]["content"]:
            return {"text": "Wo ist meine Bestellung? " + source_of(req)[-20:]}
        return {"text": "So where exactly is my order now, it is late " + source_of(req)[-10:]}
    # the scripted back-translation keeps little of its source: the relevance check is off here
    _, recs, llm = run(tmp_path, respond, count=2, operations=["translate"], verify={"action": "flag"},
                       checks=["readable", "complete"])
    assert recs and all(r.meta["via_text"].startswith("Wo ist") for r in recs)
    assert sum(1 for q in llm.requests if q.purpose != "verify") == 2 * len(recs)


def test_bad_real_data_is_one_clear_error(tmp_path):
    one = write_real(tmp_path, [{"text": "hello there friend", "label": "a"}], "one.jsonl")
    with pytest.raises(InputFileError, match="only one label"):
        run(tmp_path, rewrite, data=str(one))
    nofield = write_real(tmp_path, [{"body": "hello there friend", "label": "a"}], "nofield.jsonl")
    with pytest.raises(InputFileError, match="line 1 has no field 'text'"):
        run(tmp_path, rewrite, data=str(nofield))
    with pytest.raises(InputFileError, match="not in the label set"):
        run(tmp_path, rewrite, labels=[{"name": "refund", "description": "x"}, {"name": "cancel", "description": "y"}])


def test_what_the_demonstration_says_or_a_label_identifier_is_not_a_variation(tmp_path):
    answers = iter(["Can you check where it is? The parcel is late and I am worried.",   # the demo's words
                    "Order 4471 is not here, what happened to the thing I bought",      # the demo's order number
                    "This is about order_status: the delivery has not shown up yet",   # a label identifier
                    "My delivery still has not shown up, any news on it?}"])          # fine, stray brace removed

    def respond(req):
        if req.purpose == "verify":
            return {"label": "order_status"}
        return {"text": next(answers)}
    # the scripted answers are about one row whichever row is the source: the relevance check is off here
    summary, recs, _ = run(tmp_path, respond, count=1, data=str(write_real(tmp_path, [REAL[0], REAL[1]])),
                           operations=["paraphrase"], checks=["readable", "complete"])
    reasons = {r: n for _, r, n in summary.rejections}
    assert reasons == {"copied_demo": 2, "label_name_in_text": 1}
    assert [r.data["text"] for r in recs] == ["My delivery still has not shown up, any news on it?"]


def test_a_variation_far_from_its_source_row_is_rejected_unless_relevance_is_off(tmp_path):
    def drift(req):
        if req.purpose == "verify":
            return rewrite(req)
        return {"text": "The weather in the mountains was lovely and we walked for hours."}

    _, recs, _ = run(tmp_path, drift, count=2, operations=["paraphrase"])
    assert not recs
    with RunStore(tmp_path / "out" / "store.sqlite") as store:
        reasons = {r for _s, r, _n in store.rejection_counts(store.run_info(None)["run_id"])}
    assert "relevant:far_from_source" in reasons
    for sub in ("off", "ok"):
        (tmp_path / sub).mkdir()
    _, recs, _ = run(tmp_path / "off", drift, count=2, operations=["paraphrase"], checks=["readable", "complete"],
                     verify={"action": "flag"})
    assert len(recs) == 2
    # a faithful rewrite keeps its cosine with the source in the record's scores
    _, recs, _ = run(tmp_path / "ok", rewrite, count=2, operations=["paraphrase"])
    assert recs and all(r.meta["scores"]["source_cosine"] >= 0.4 for r in recs)
