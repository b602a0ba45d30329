"""The dataset card says what a reader needs before training on the data."""
import pytest
import yaml

from helpers.instruct_run import make_run
from synthloom.export.card import build_card
from synthloom.export.dataset import export_run


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("run") / "out")
    out = tmp_path_factory.mktemp("card") / "ft"
    export_run(run, "openai", out, split="0.8,0.1,0.1", system="You are a helpful assistant.")
    return out / "README.md"


def test_card_has_every_section(exported):
    text = exported.read_text()
    header = yaml.safe_load(text.split("---")[1])
    assert header["license"] == "other" and "self-instruct" in header["tags"]
    assert {d["split"] for d in header["configs"][0]["data_files"]} <= {"train", "validation", "test"}
    for section in ("## Splits", "## How it was made", "## Rejection funnel", "## Token usage", "## Recipe",
                    "## License", "## Sample records"):
        assert section in text
    assert "Self-Instruct" in text and "2212.10560" in text
    assert "fake:scripted" in text  # the model
    assert "self_instruct:instances" in text  # usage per purpose
    assert "You are a helpful assistant." in text
    assert '"messages"' in text  # samples in the exported format


def test_card_counts_and_rejections():
    manifest = {
        "run_id": "r1", "wall_s": 1.5,
        "recipe": {"name": "demo", "count": 3, "model": {"backend": "llamacpp"},
                   "generate": {"technique": "evol_instruct", "seeds": "s.jsonl", "rounds": 4}},
        "funnel": {"generated": 10, "filtered": 4, "accepted": 3},
        "rejections": [{"stage": "filter", "reason": "no_information_gain", "count": 5},
                       {"stage": "surplus", "reason": "target_reached", "count": 1}],
        "usage": [{"model": "llamacpp:gemma3-270m", "purpose": "evol_instruct:evolve", "calls": 10, "cache_hits": 2,
                   "prompt_tokens": 900, "completion_tokens": 300}],
        "tokens": {"prompt": 900, "completion": 300, "calls": 10, "cache_hits": 2},
    }
    text = build_card(manifest, {"train": 2, "test": 1}, "sharegpt", {"train": "train.jsonl", "test": "test.jsonl"},
                      [{"conversations": []}])
    assert "| train | 2 | train.jsonl |" in text and "| test | 1 | test.jsonl |" in text
    assert "no_information_gain | 5" in text and "target_reached" not in text
    assert "Evol-Instruct" in text and "Gemma Terms of Use" in text
    assert "rounds: `4`" in text
    assert "900 prompt + 300 completion tokens" in text
