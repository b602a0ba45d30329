"""The DPO student: preference pairs read from any of the formats synthloom writes, split by prompt, and (on the
bundled model) a LoRA adapter trained by TRL's DPOTrainer that `evaluate` scores against the base."""
from __future__ import annotations

import json

import pytest

from synthloom.errors import UsageError
from synthloom.train.dpo import load_pairs, pair_rows

PAIRS = [
    ("Name a primary colour.", "Red is a primary colour.", "Banana."),
    ("What is 2 + 2?", "2 + 2 equals 4.", "It is 22."),
    ("Give a synonym for happy.", "A synonym for happy is joyful.", "Sad."),
    ("What is the capital of France?", "The capital of France is Paris.", "London, I think."),
    ("How many days are in a week?", "A week has seven days.", "Ten."),
    ("What do bees make?", "Bees make honey from the nectar of flowers.", "Bees make milk."),
    ("What is the opposite of cold?", "The opposite of cold is hot.", "Cold."),
    ("Which planet do we live on?", "We live on the planet Earth.", "The Moon."),
    ("What colour is grass?", "Grass is green.", "Grass is purple."),
    ("How many legs does a cat have?", "A cat has four legs.", "A cat has eight legs."),
]


def write_pairs(path, chat=False):
    rows = []
    for p, c, r in PAIRS:
        if chat:
            rows.append({"prompt": [{"role": "user", "content": p}], "chosen": [{"role": "assistant", "content": c}],
                         "rejected": [{"role": "assistant", "content": r}]})
        else:
            rows.append({"prompt": p, "chosen": c, "rejected": r})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_plain_and_conversational_pairs_read_alike(tmp_path):
    plain = pair_rows([json.loads(l) for l in write_pairs(tmp_path / "a.jsonl").read_text().splitlines()], "a")
    chat = pair_rows([json.loads(l) for l in write_pairs(tmp_path / "b.jsonl", chat=True).read_text().splitlines()], "b")
    assert plain == chat and plain[0] == {"prompt": PAIRS[0][0], "chosen": PAIRS[0][1], "rejected": PAIRS[0][2]}
    with pytest.raises(UsageError, match="record 1 is not a preference pair.*technique: preference"):
        pair_rows([{"instruction": "x", "output": "y"}], "data.jsonl")


def test_splits_keep_a_prompt_in_one_split(tmp_path):
    rows = [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in PAIRS]
    rows += [{"prompt": p, "chosen": c, "rejected": "No idea."} for p, c, _r in PAIRS]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parts, _ = load_pairs(path, "0.6,0.2,0.2", 0)
    assert sum(map(len, parts.values())) == 20 and all(parts.values())
    seen = [{r["prompt"] for r in part} for part in parts.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


@pytest.mark.model
@pytest.mark.timeout(300)
def test_dpo_student_trains_on_the_bundled_model_and_evaluates(tmp_path):
    """Two DPO steps on the bundled model: the folder a user gets, and evaluate's accuracy for student and base."""
    pytest.importorskip("trl")
    from typer.testing import CliRunner

    from synthloom.cli import app
    from synthloom.train import load_student
    from synthloom.train.evaluate import report_markdown

    data = write_pairs(tmp_path / "pairs.jsonl")
    out = tmp_path / "student"
    r = CliRunner().invoke(app, ["train", str(data), "--student", "dpo", "-o", str(out), "--split", "0.7,0,0.3",
                                 "--max-steps", "2", "--batch-size", "2", "--max-length", "64", "--lr", "1e-3",
                                 "--no-gguf"])
    assert r.exit_code == 0, r.output
    assert "trained dpo student" in r.output
    meta = json.loads((out / "student.json").read_text())
    assert meta["kind"] == "dpo" and meta["steps"] == 2 and meta["trainer"] == "trl.DPOTrainer"
    assert [h["step"] for h in meta["history"] if "loss" in h] == [1, 2]
    assert abs(meta["first_loss"] - 0.6931) < 0.01  # the adapter starts as the base: no preference yet
    assert (out / "adapter_model.safetensors").is_file() and (out / "loss_curve.png").stat().st_size > 1000
    assert "DPO student" in (out / "README.md").read_text()
    test = [json.loads(l) for l in (out / "test.jsonl").read_text().splitlines()]
    assert test and not {r["prompt"] for r in test} & {p for p, _c, _r in PAIRS if p not in {t["prompt"] for t in test}}

    r = CliRunner().invoke(app, ["evaluate", str(out), "--data", str(out / "test.jsonl"), "--json",
                                 str(tmp_path / "report.json")])
    assert r.exit_code == 0, r.output
    assert "preference accuracy" in r.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["metric"] == "preference" and report["n"] == len(test)
    assert 0 <= report["accuracy"] <= 1 and report["mean_reward_margin"] != 0  # the adapter moved off the base
    assert set(report["comparison"]) == {"base model (its log-likelihood prefers chosen)",
                                         "DPO student (its log-likelihood prefers chosen)",
                                         "DPO student (implicit reward prefers chosen)"}
    assert "preference accuracy" in report_markdown(report)
    student = load_student(out)
    answer, _p, n = student.generate([{"role": "user", "content": "What is 2 + 2?"}], max_new_tokens=8)
    assert n > 0 and isinstance(answer, str)
