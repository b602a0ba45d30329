"""Multilingual copies (technique: translate): every gate with cases that pass and fail, and the technique's logic."""
from __future__ import annotations

import json

import pytest

from fakes import ScriptedLLM
from synthloom import RecipeError, RunStore, run_recipe
from synthloom.engine.recipe_file import recipe_from_dict
from synthloom.errors import InputFileError
from synthloom.quality.translation import language_problem, length_problem, missing_span, protected_spans

SRC = ("Hi {name}, your order #4471 of 1,250.50 EUR ships on Monday from Northwind Outfitters. "
       "Track it at https://shop.example/track or write to help@shop.example.")
DE = ("Hallo {name}, Ihre Bestellung #4471 über 1.250,50 EUR wird am Montag von Northwind Outfitters versandt. "
      "Verfolgen Sie sie unter https://shop.example/track oder schreiben Sie an help@shop.example.")


def test_a_faithful_translation_passes_every_gate():
    assert language_problem(DE, "de", "en") is None
    assert missing_span(SRC, DE) is None
    assert length_problem(SRC, DE, (0.5, 2.2)) is None
    kinds = {k for k, _ in protected_spans(SRC)}
    assert kinds == {"placeholder", "number", "url", "email", "entity"}


@pytest.mark.parametrize("text,target,reason", [
    (SRC, "de", "language:source"),                                            # drift back to English
    ("Bonjour, votre commande est partie lundi et arrive bientôt.", "de", "language:wrong"),
    ("Thank you", "de", "language:source"),                                    # short text, still English
])
def test_language_rejects(text, target, reason):
    assert language_problem(text, target, "en")[0] == reason


def test_short_texts_are_judged_between_source_and_target():
    assert language_problem("Danke schön", "de", "en") is None
    assert language_problem("4471", "de", "en") is None  # no letters: nothing to identify


@pytest.mark.parametrize("broken,reason", [
    (DE.replace("{name}", "Name"), "keep:placeholder"),
    (DE.replace("4471", "4470"), "keep:number"),
    (DE.replace("1.250,50", "1.205,50"), "keep:number"),
    (DE.replace("https://shop.example/track", "shop.example"), "keep:url"),
    (DE.replace("help@shop.example", "Hilfe"), "keep:email"),
    (DE.replace("Northwind Outfitters", "Nordwind Ausstatter"), "keep:entity"),
])
def test_protected_spans_must_survive(broken, reason):
    assert missing_span(SRC, broken)[0] == reason


def test_number_formats_of_the_target_locale_are_the_same_number_and_localize_frees_them():
    assert missing_span("It costs 1,000.50 dollars.", "Es kostet 1.000,50 Dollar.") is None
    assert missing_span("It costs 1,000 dollars.", "Es kostet 950 Euro.", numbers=False) is None


def test_length_ratio_bounds():
    assert length_problem(SRC, "Hallo.", (0.5, 2.2))[0] == "length_ratio"
    assert length_problem(SRC, DE * 3, (0.5, 2.2))[0] == "length_ratio"


# ---------------------------------------------------------------- the technique, scripted

ROWS = [{"id": "t1", "text": "Where is my order {order_id}? It was due 3 days ago.", "label": "shipping"},
        {"id": "t2", "text": "Please cancel my subscription.", "label": "cancellation"}]
GOOD = {("de", 0): "Wo ist meine Bestellung {order_id}? Sie war vor 3 Tagen fällig.",
        ("de", 1): "Bitte kündigen Sie mein Abonnement.",
        ("fr", 0): "Où est ma commande {order_id} ? Elle était attendue il y a 3 jours.",
        ("fr", 1): "Veuillez annuler mon abonnement."}


def translator(bad=None, bad_tries=1):
    """Translates ROWS; `bad` maps (lang, row) to a wrong answer given on the first `bad_tries` tries."""
    tries: dict = {}

    def respond(req):
        system = req.messages[0]["content"]
        lang = "de" if "into German" in system else "fr"
        text = req.messages[-1]["content"]
        i = 0 if "order" in text else 1
        tries[(lang, i)] = tries.get((lang, i), 0) + 1
        if bad and (lang, i) in bad and tries[(lang, i)] <= bad_tries:
            return bad[(lang, i)]
        return GOOD[(lang, i)] + "\n\nInput: something the model added"
    return respond


def make(tmp_path, count=4, **gen):
    src = tmp_path / "data.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    data = {"name": "tr", "count": count, "engine": {"concurrency": 1, "max_attempts": 12},
            "generate": {"technique": "translate", "input": str(src), "languages": ["de", "fr"],
                         "fields": ["text"], "id_field": "id", **gen}}
    return recipe_from_dict(data, "test")


def test_translations_keep_labels_ids_and_link_to_their_source(tmp_path):
    bad = {("de", 0): "Where is my order {order_id}? It was due 3 days ago.",   # drift back to English
           ("fr", 1): "Veuillez annuler mon abonnement numéro 5."}               # a number appeared: fine
    llm = ScriptedLLM(translator(bad))
    summary = run_recipe(make(tmp_path), base_dir=tmp_path, output=tmp_path / "out", llm=llm)
    assert summary.complete
    t1_de = [r for r in llm.requests if "into German" in r.messages[0]["content"] and "order" in r.messages[-1]["content"]]
    assert [r.temperature for r in t1_de] == [0.2, 0.5]  # the retry samples hotter, with another seed
    assert t1_de[0].seed != t1_de[1].seed
    rows = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    got = {(r["id"], r["language"]): r for r in rows}
    assert set(got) == {("t1", "de"), ("t1", "fr"), ("t2", "de"), ("t2", "fr")}
    assert got[("t1", "de")]["text"] == GOOD[("de", 0)]  # what the model appended after a blank line is cut
    assert got[("t1", "de")]["label"] == "shipping" and got[("t2", "fr")]["label"] == "cancellation"
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), [r for r in s.rejections() if r.stage != "surplus"]
    assert {(r.meta["source_id"], r.meta["language"], r.meta["source_language"]) for r in accepted} == \
        {("t1", "de", "en"), ("t1", "fr", "en"), ("t2", "de", "en"), ("t2", "fr", "en")}
    assert [(r.reason, r.meta["source_id"], r.meta["language"]) for r in rejected] == \
        [("language:source", "t1", "de")]
    assert rejected[0].detail.startswith("text: reads as en")
    retry = next(r for r in accepted if r.meta["source_id"] == "t1" and r.meta["language"] == "de")
    assert retry.meta["attempt"] == 1  # the failed pair was tried again on the next pass, with a new seed


def test_a_hard_pair_gets_the_retries_the_budget_holds(tmp_path):
    """4 pairs, 12 attempts, one pair answered in English 6 times: after the first pass every slot goes to
    that pair (one try per pass over all pairs would give it 3 tries and stop at 3 of 4)."""
    llm = ScriptedLLM(translator({("fr", 1): "Please cancel my subscription now."}, bad_tries=6))
    summary = run_recipe(make(tmp_path), base_dir=tmp_path, output=tmp_path / "out", llm=llm)
    assert summary.complete
    with RunStore(summary.run_dir / "store.sqlite") as s:
        rejected, accepted = list(s.rejections()), s.accepted_records()
    assert [r.reason for r in rejected] == ["language:source"] * 6  # no slot spent on a pair already done
    hard = next(r for r in accepted if r.meta["source_id"] == "t2" and r.meta["language"] == "fr")
    assert hard.meta["attempt"] == 6
    temps = [r.temperature for r in llm.requests if "into French" in r.messages[0]["content"]
             and "cancel" in r.messages[-1]["content"]]
    assert temps == [0.2, 0.5, 0.8, 1.0, 1.0, 1.0, 1.0]


def test_a_dropped_placeholder_or_changed_number_is_rejected_with_its_reason(tmp_path):
    bad = {("de", 1): "Ihre Bestellung {order_id} wurde versandt und kommt in 3 Tagen an.",  # the worked example
           ("de", 0): "Wo ist meine Bestellung? Sie war vor 3 Tagen fällig.",
           ("fr", 0): "Où est ma commande {order_id} ? Elle était attendue il y a 4 jours."}
    summary = run_recipe(make(tmp_path), base_dir=tmp_path, output=tmp_path / "out", llm=ScriptedLLM(translator(bad)))
    with RunStore(summary.run_dir / "store.sqlite") as s:
        reasons = sorted(r.reason for r in s.rejections() if r.stage != "surplus")
    assert reasons == ["copied_example", "keep:number", "keep:placeholder"]


def test_config_and_input_errors(tmp_path):
    with pytest.raises(RecipeError, match="'en' is the source language"):
        make(tmp_path, languages=["de", "en"])
    with pytest.raises(RecipeError, match="not an ISO 639-1 code"):
        make(tmp_path, languages=["German"])
    rec = make(tmp_path, fields=["body"])
    with pytest.raises(RecipeError, match="no record of .* has a text field 'body'"):
        run_recipe(rec, base_dir=tmp_path, output=tmp_path / "o", llm=ScriptedLLM(translator()))
    (tmp_path / "bad.jsonl").write_text('{"text": "x"}\nnot json\n')
    rec = make(tmp_path, input=str(tmp_path / "bad.jsonl"))
    with pytest.raises(InputFileError, match="bad.jsonl:2: not valid JSON"):
        run_recipe(rec, base_dir=tmp_path, output=tmp_path / "o2", llm=ScriptedLLM(translator()))


def test_a_language_attribute_axis_in_any_technique_is_checked(tmp_path):
    def respond(req):
        ask = req.messages[-1]["content"]
        if "German" in ask:
            return {"body": "Meine Bestellung ist seit drei Tagen überfällig, bitte helfen Sie mir schnell."}
        return {"body": "My order is three days late, please help me quickly with this problem."}  # asked French

    schema = {"type": "object", "properties": {"body": {"type": "string"}}, "required": ["body"]}
    rec = recipe_from_dict({"name": "lang", "count": 2,
                            "generate": {"technique": "schema", "schema": schema, "instruction": "support messages",
                                         "attributes": {"language": ["German", "French"]}},
                            "quality": [{"gate": "language", "fields": ["body"]}],
                            "engine": {"concurrency": 1, "max_attempts": 6}}, "test")
    summary = run_recipe(rec, base_dir=tmp_path, output=tmp_path / "o", llm=ScriptedLLM(respond))
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), list(s.rejections())
    assert accepted and all(r.meta["attributes"]["language"] == "German" and r.meta["language"] == "de"
                            for r in accepted)
    assert rejected and {r.reason for r in rejected if r.stage == "filter"} == {"language:source"}
    assert all(r.meta["attributes"]["language"] == "French" for r in rejected if r.stage == "filter")


def test_a_run_directory_is_translated_and_back_translation_rejects_a_drifted_meaning(tmp_path):
    english = iter([{"text": "Please cancel my subscription today.", "label": "cancellation"},
                    {"text": "Where is my parcel? It is three days late.", "label": "shipping"}])
    schema = {"type": "object", "properties": {"text": {"type": "string"}, "label": {"type": "string"}},
              "required": ["text", "label"]}
    first = run_recipe(recipe_from_dict({"name": "src", "count": 2, "engine": {"concurrency": 1},
                                         "generate": {"technique": "schema", "schema": schema}}, "test"),
                       base_dir=tmp_path, output=tmp_path / "first", llm=ScriptedLLM(lambda req: next(english)))
    assert first.complete

    def respond(req):
        text = req.messages[-1]["content"]
        if "into English" in req.messages[0]["content"]:  # the back-translation: faithful for one only
            return "Please cancel my subscription today." if "Abonnement" in text else "I like green apples."
        return ("Bitte kündigen Sie heute mein Abonnement." if "subscription" in text else
                "Wo ist mein Paket? Es ist drei Tage zu spät.")

    rec = recipe_from_dict({"name": "tr", "count": 2, "engine": {"concurrency": 1, "max_attempts": 2},
                            "generate": {"technique": "translate", "input": str(tmp_path / "first"),
                                         "languages": ["de"], "fields": ["text"], "back_translation": True}},
                           "test")
    summary = run_recipe(rec, base_dir=tmp_path, output=tmp_path / "second", llm=ScriptedLLM(respond))
    with RunStore(summary.run_dir / "store.sqlite") as s:
        accepted, rejected = s.accepted_records(), [r for r in s.rejections() if r.stage != "surplus"]
    assert [r.data["text"] for r in accepted] == ["Bitte kündigen Sie heute mein Abonnement."]
    assert accepted[0].data["label"] == "cancellation" and accepted[0].meta["back_similarity"]["text"] > 0.99
    assert {r.reason for r in rejected} == {"back_translation"}
    assert "I like green apples" in rejected[0].detail
