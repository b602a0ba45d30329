"""Synthetic vs real: the measures move the way a user expects, and the report shows them."""
import asyncio
import json
import random
from pathlib import Path

from synthloom.export.compare import compare_to_reference, label_section
from synthloom.quality.embeddings import HashingEmbedder
from synthloom.records import Record, Rejection

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHOP = ["order", "parcel", "refund", "delivery", "tracking", "courier", "return", "invoice", "size", "jacket"]
SPACE = ["nebula", "orbit", "telescope", "galaxy", "comet", "asteroid", "quasar", "gravity", "photon", "eclipse"]


def texts(vocab, n, seed, words=(6, 12)):
    rng = random.Random(seed)
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(*words))) for _ in range(n)]


def test_two_samples_of_one_source_look_alike_and_another_topic_does_not():
    real = [(t, "a" if i % 2 else "b") for i, t in enumerate(texts(SHOP, 40, 1))]
    same = [(t, "a" if i % 2 else "b") for i, t in enumerate(texts(SHOP, 40, 2))]
    other = [(t, "a") for t in texts(SPACE, 40, 3, words=(20, 30))]
    alike = compare_to_reference(same, real, embedder=HashingEmbedder())
    apart = compare_to_reference(other, real, embedder=HashingEmbedder())
    assert alike["embedding"]["two_sample_auc"] < 0.7 < 0.95 < apart["embedding"]["two_sample_auc"]
    assert alike["length_words"]["ks_statistic"] < 0.3 < 0.9 < apart["length_words"]["ks_statistic"]
    assert alike["labels"]["total_variation"] == 0.0 and apart["labels"]["total_variation"] == 0.5
    assert alike["vocabulary"]["real_vocabulary_covered"] == 1.0 and apart["vocabulary"]["jaccard"] == 0.0
    assert alike["embedding"]["knn_precision"] > 0.5 and apart["embedding"]["knn_precision"] == 0.0


def test_a_copied_real_record_shows_in_the_nearest_real_distribution():
    real = [(t, None) for t in texts(SHOP, 20, 1, words=(8, 10))]
    synthetic = [(t, None) for t in texts(SPACE, 19, 2)] + [real[5]]
    near = compare_to_reference(synthetic, real, embedder=HashingEmbedder())["nearest_real"]
    assert near["ngram_overlap"]["max"] == 1.0 and near["above_max_overlap"] == 1
    assert near["closest_pair"]["synthetic"] == real[5][0] and near["cosine"]["max"] > 0.99


def test_label_section_counts_target_produced_accepted_and_agreement():
    gen = {"labels": ["a", "b"], "targets": {"a": 2, "b": 1}, "text_field": "text", "label_field": "label"}
    recs = [Record({"text": "x", "label": "a"}, {"target_label": "a", "scores": {"label_agrees": True}}),
            Record({"text": "y", "label": "a"}, {"target_label": "a", "scores": {"label_agrees": False}}),
            Record({"text": "z", "label": "b"}, {"target_label": "b", "scores": {"label_agrees": True}})]
    rej = [Rejection("label", "label_mismatch", data={"text": "w", "label": "b"},
                     meta={"target_label": "b", "scores": {"label_predicted": "a"}}),
           Rejection("surplus", "target_reached", data={"text": "v", "label": "b"}, meta={"target_label": "b"})]
    sec = label_section(recs, rej, gen)
    a, b = sec["labels"]["a"], sec["labels"]["b"]
    assert (a["target"], a["produced"], a["accepted"], a["agreement"]) == (2, 2, 2, 0.5)
    assert (b["target"], b["produced"], b["accepted"], b["agreement"]) == (1, 2, 1, 0.5)
    assert b["rejected_examples"] == [{"reason": "label_mismatch", "text": "w", "predicted": "a"}]
    assert sec["agreement"] == 0.5


def test_the_report_of_a_classification_run_has_the_label_and_real_data_sections(tmp_path):
    from synthloom.engine import arun_recipe
    from synthloom.engine.recipe_file import load_recipe
    from synthloom.export.report import write_report
    from tests.fakes import ScriptedLLM

    real = [json.loads(line) for line in (EXAMPLES / "intents.real.jsonl").read_text().splitlines()]

    def respond(req):
        if req.purpose == "verify":
            return {"label": req.json_schema["properties"]["label"]["enum"][0]}
        label = req.messages[-1]["content"].split("with label ", 1)[1][:30]
        return {"text": f"A new customer message, number {req.seed % 1000}, about {label}"}

    recipe = load_recipe(EXAMPLES / "intents.yaml", {"count": 6})
    asyncio.run(arun_recipe(recipe, base_dir=EXAMPLES, output=tmp_path / "run", llm=ScriptedLLM(respond)))
    paths = write_report(tmp_path / "run", embedder=HashingEmbedder())
    md = paths["markdown"].read_text()
    assert "## Labels: target, produced, accepted, verification" in md and "| other | 1 |" in md
    assert "## Synthetic vs real" in md and f"against {len(real)} real ones" in md
    assert "two-sample AUC" in md and (tmp_path / "run" / "report" / "compare_lengths.png").is_file()


def test_classification_rows_export_to_hf_with_a_classlabel_column_and_stratified_splits(tmp_path):
    import datasets

    from synthloom.engine import arun_recipe
    from synthloom.engine.recipe_file import recipe_from_dict
    from synthloom.export.dataset import export_run
    from tests.fakes import ScriptedLLM

    labels = [{"name": n, "description": f"about {n}"} for n in ("a", "b", "c")]
    recipe = recipe_from_dict({"count": 30, "generate": {"technique": "classification", "labels": labels,
                                                         "verify": {"enabled": False}}, "checks": []}, "t")
    def distinct(req):  # unrelated texts (no checks: letter salad fits no label), so no near-duplicate group spans the splits
        rng = random.Random(req.seed)
        return {"text": " ".join("".join(rng.choice("abcdefghijklmnop") for _ in range(6)) for _ in range(8))}

    llm = ScriptedLLM(distinct)
    asyncio.run(arun_recipe(recipe, base_dir=tmp_path, output=tmp_path / "run", llm=llm))
    export_run(tmp_path / "run", "hf", tmp_path / "hf", split="0.8,0.2", stratify="label", seed=1)
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    feature = dd["train"].features["label"]
    assert isinstance(feature, datasets.ClassLabel) and feature.names == ["a", "b", "c"]
    assert {name: sorted(set(d["label"])) for name, d in dd.items()} == {"train": [0, 1, 2], "validation": [0, 1, 2]}
    assert [list(dd["train"]["label"]).count(k) for k in range(3)] == [8, 8, 8]


def test_classification_rows_write_to_csv(tmp_path):
    import csv

    from synthloom.engine import arun_recipe
    from synthloom.engine.recipe_file import recipe_from_dict
    from tests.fakes import ScriptedLLM

    labels = [{"name": "a", "description": "about a"}, {"name": "b", "description": "about b"}]
    recipe = recipe_from_dict({"count": 4, "generate": {"technique": "classification", "labels": labels,
                                                        "verify": {"enabled": False}}}, "t")
    llm = ScriptedLLM(lambda req: {"text": 'a text, with a comma and "quotes" number ' + str(req.seed)})
    asyncio.run(arun_recipe(recipe, base_dir=tmp_path, output=tmp_path / "rows.csv", llm=llm))
    rows = list(csv.DictReader((tmp_path / "rows.csv").open(encoding="utf-8")))
    assert len(rows) == 4 and sorted(r["label"] for r in rows) == ["a", "a", "b", "b"]
    assert all(r["text"].startswith('a text, with a comma and "quotes"') for r in rows)
    assert (tmp_path / "rows.run" / "store.sqlite").is_file()
