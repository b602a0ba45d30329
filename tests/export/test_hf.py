"""hf and parquet exports load with `datasets` and keep every record once."""
import json

import pytest

from helpers.instruct_run import make_run
from synthloom.export.dataset import export_run

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run") / "out")


def test_save_to_disk_loads(run_dir, tmp_path):
    s = export_run(run_dir, "hf", tmp_path / "hf", split="0.75,0.25", system="Be helpful.")
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    assert set(dd) == {"train", "validation"} and sum(len(d) for d in dd.values()) == 16
    assert {"instruction", "input", "output", "messages"} <= set(dd["train"].column_names)
    row = dd["train"][0]
    assert row["messages"][0] == {"role": "system", "content": "Be helpful."}
    assert row["messages"][-1]["content"] == row["output"]
    assert s.counts == {k: len(v) for k, v in dd.items()}
    assert (tmp_path / "hf" / "README.md").is_file()


def test_parquet_layout_loads_by_folder(run_dir, tmp_path):
    out = tmp_path / "pq"
    s = export_run(run_dir, "parquet", out, split="0.5,0.25,0.25")
    assert s.files == {n: f"data/{n}-00000-of-00001.parquet" for n in ("train", "validation", "test")}
    ds = datasets.load_dataset(str(out))
    assert set(ds) == {"train", "validation", "test"}
    assert sum(len(d) for d in ds.values()) == 16
    direct = datasets.load_dataset("parquet", data_files={"train": str(out / s.files["train"])})
    assert len(direct["train"]) == len(ds["train"])


def test_jsonl_chat_exports_load_with_json_and_datasets(run_dir, tmp_path):
    for fmt, key in (("openai", "messages"), ("sharegpt", "conversations"), ("alpaca", "instruction"), ("chatml", "text")):
        out = tmp_path / fmt
        s = export_run(run_dir, fmt, out, split="0.8,0.1,0.1", system="Sys")
        total = 0
        for name, f in s.files.items():
            lines = [json.loads(l) for l in (out / f).read_text().splitlines()]
            assert all(key in r for r in lines)
            total += len(lines)
        assert total == 16
        ds = datasets.load_dataset(str(out))
        assert sum(len(d) for d in ds.values()) == 16


def test_instances_of_one_task_never_cross_splits(run_dir, tmp_path):
    s = export_run(run_dir, "alpaca", tmp_path / "a", split="0.5,0.25,0.25", seed=7)
    where = {}
    for name, f in s.files.items():
        for l in (tmp_path / "a" / f).read_text().splitlines():
            r = json.loads(l)
            assert where.setdefault(r["instruction"], name) == name


def test_export_errors(tmp_path, run_dir):
    from synthloom.errors import UsageError

    with pytest.raises(UsageError, match="no run here"):
        export_run(tmp_path / "missing", "openai", tmp_path / "o")
    with pytest.raises(UsageError, match="--format 'csv'"):
        export_run(run_dir, "csv", tmp_path / "o")


def test_export_cli(run_dir, tmp_path):
    from typer.testing import CliRunner

    from synthloom.cli import app

    r = CliRunner().invoke(app, ["export", str(run_dir), "--format", "chatml", "--split", "0.5,0.5", "-o",
                                 str(tmp_path / "c"), "--system", "Be kind."])
    assert r.exit_code == 0, r.output
    rows = [json.loads(l) for f in ("train.jsonl", "validation.jsonl") for l in (tmp_path / "c" / f).read_text().splitlines()]
    assert len(rows) == 16 and all(x["text"].startswith("<|im_start|>system\nBe kind.<|im_end|>") for x in rows)
    r = CliRunner().invoke(app, ["export", str(tmp_path / "nope"), "--format", "openai", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "no run here" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["export", str(run_dir), "--split", "0.7,0.7", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "add up to 1" in " ".join(r.output.split())


def test_stratify_by_lineage_and_export_from_a_plain_jsonl(run_dir, tmp_path):
    s = export_run(run_dir, "alpaca", tmp_path / "m", split="0.5,0.5", stratify="meta.is_classification")
    assert sum(s.counts.values()) == 16
    from synthloom.errors import UsageError

    with pytest.raises(UsageError, match="meta.round"):
        export_run(run_dir, "alpaca", tmp_path / "m2", stratify="meta.nope")
    s = export_run(run_dir / "data.jsonl", "openai", tmp_path / "j", split="1")
    assert s.counts == {"train": 16}
