"""Bad input to the labelled-data commands: one line naming the file/field and the fix, exit code 2, nothing written."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LABELS = str(EXAMPLES / "labels" / "intents.yaml")


def invoke(*args):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("args, message", [
    (["--labels", "nope.yaml"], "nope.yaml: label set not found"),
    (["--labels", LABELS, "-n", "5", "--distribution", "order_status=1,other=1"], "the counts add up to 2, but count is 5"),
    (["--labels", LABELS, "--distribution", "lots"], "--distribution 'lots': write balanced, weights, or label=count"),
    (["--labels", LABELS, "--boundary", "order_status"], "--boundary 'order_status': write two labels"),
    (["--labels", LABELS, "--out-of-scope", "misc"], "'misc' is not a label"),
    (["--labels", LABELS, "--verify", "maybe"], "--verify must be reject, flag, relabel or off"),
])
def test_generate_classification_bad_input(tmp_path, args, message):
    res = invoke("generate", "classification", *args, "-o", str(tmp_path / "out"))
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()) and "Traceback" not in res.output
    assert not (tmp_path / "out" / "data.jsonl").exists()


def test_generate_classification_with_one_label(tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text("labels:\n  - {name: spam, description: unwanted mail}\n")
    res = invoke("generate", "classification", "--labels", str(f), "-o", str(tmp_path / "out"))
    assert res.exit_code == 2 and "at least two labels" in res.output


def test_generate_augment_and_compare_bad_input(tmp_path):
    res = invoke("generate", "augment", "--data", str(EXAMPLES / "intents.real.jsonl"), "--text-field", "message",
                 "-o", str(tmp_path / "out"))
    assert res.exit_code == 2 and "line 1 has no field 'message'" in " ".join(res.output.split())
    res = invoke("generate", "augment", "--data", str(EXAMPLES / "intents.real.jsonl"), "--operations", "shout",
                 "-o", str(tmp_path / "out"))
    assert res.exit_code == 2 and "operations" in res.output
    res = invoke("compare", str(tmp_path), "--reference", str(EXAMPLES / "intents.real.jsonl"))
    assert res.exit_code == 2 and "no run store" in res.output
