"""Exports of a run of thousands of records: every record once, in order, converted as one at a time would be;
splits within one record of the ratios; near copies in one split; memory that does not grow with the run."""
import json
import random
import tracemalloc

import pytest

from run_store import instruction, make_store
from synthloom.export import splits as splits_mod
from synthloom.export.chat import to_openai, to_sharegpt
from synthloom.export.dataset import export_run, load_run
from synthloom.export.splits import SplitPlan, split_rows
from synthloom.runs import table_stream

N = 2000


@pytest.fixture(scope="module")
def run3k(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("r") / "run", N, near_copies=20)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_split_files_hold_every_record_in_order(run3k, tmp_path):
    rows, _ = load_run(run3k)
    assert len(rows) == N
    s = export_run(run3k, "openai", tmp_path / "oa", split="1", system="Sys")
    assert s.counts == {"train": N}
    assert lines(tmp_path / "oa" / "train.jsonl") == [to_openai(r, "Sys") for r in rows]
    s = export_run(run3k, "sharegpt", tmp_path / "sg", split="0.5,0.5")
    got = lines(tmp_path / "sg" / "train.jsonl") + lines(tmp_path / "sg" / "validation.jsonl")
    assert sorted(map(json.dumps, got)) == sorted(json.dumps(to_sharegpt(r)) for r in rows)
    assert s.counts == {"train": N // 2, "validation": N // 2}
    pq = pytest.importorskip("pyarrow.parquet")
    s = export_run(run3k, "parquet", tmp_path / "pq", split="1", system="Sys")
    got = pq.read_table(tmp_path / "pq" / s.files["train"]).to_pylist()
    assert got == [{**r, "messages": to_openai(r, "Sys")["messages"]} for r in rows]


def test_hf_export_loads_with_every_record(run3k, tmp_path):
    datasets = pytest.importorskip("datasets")
    rows, _ = load_run(run3k)
    s = export_run(run3k, "hf", tmp_path / "hf", split="0.8,0.1,0.1")
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    assert {k: len(v) for k, v in dd.items()} == s.counts == {"train": 1600, "validation": 200, "test": 200}
    got = sorted(json.dumps(r, sort_keys=True) for d in dd.values() for r in d.remove_columns("messages"))
    assert got == sorted(json.dumps(r, sort_keys=True) for r in rows)
    assert not [p for p in (tmp_path / "hf").iterdir() if p.name.startswith(".hf-")]  # no scratch left


@pytest.mark.parametrize("ratios", ["0.8,0.1,0.1", "0.7,0.2,0.1", "0.33,0.33,0.34", "0.9,0.1"])
def test_split_sizes_within_one_record_of_the_ratios(ratios):
    rows = [{"instruction": f"question number {i} about item {i * 7919 % 10007}", "output": str(i),
             "label": "ab"[i % 5 == 0]} for i in range(2345)]
    want = dict(zip(("train", "validation", "test"), map(float, ratios.split(","))))
    for seed in (0, 1):
        got = split_rows(rows, ratios, seed=seed, near_duplicate=1.0)
        for name, part in got.items():
            assert abs(len(part) - want[name] * len(rows)) <= 1, (name, len(part))
        strat = split_rows(rows, ratios, seed=seed, stratify="label", near_duplicate=1.0)
        for label in "ab":
            total = sum(r["label"] == label for r in rows)
            for name, part in strat.items():
                assert abs(sum(r["label"] == label for r in part) - want[name] * total) <= 1


def test_near_copies_land_in_one_split_of_an_export(run3k, tmp_path):
    rows, _ = load_run(run3k)
    copies = {r["instruction"]: r["instruction"][: -len(" please")] for r in rows if r["instruction"].endswith(" please")}
    assert len(copies) > 60
    for seed in (0, 1, 2):
        s = export_run(run3k, "alpaca", tmp_path / f"a{seed}", split="0.6,0.2,0.2", seed=seed)
        where = {}
        for name, f in s.files.items():
            for r in lines(tmp_path / f"a{seed}" / f):
                where.setdefault(r["instruction"], set()).add(name)
        for copy, original in copies.items():
            assert len(where[copy] | where[original]) == 1, (copy, where[copy], where[original])


def test_a_row_close_to_two_groups_joins_them():
    # 0 and 1 are far apart; 2 is close to both: all three must share a split
    a = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    b = "alpha beta gamma delta epsilon zeta lambda mu nu xi"
    bridge = "alpha beta gamma delta epsilon zeta eta theta lambda mu"
    other = [f"unrelated words number {i} here and there again" for i in range(40)]
    with SplitPlan({"train": 0.5, "test": 0.5}, near_duplicate=0.7) as plan:
        for t in [a, b, *other, bridge]:
            plan.add(t)
        plan.deal()
        groups = plan.groups()
        got = list(plan.splits())
    assert [0, 1, 42] in groups
    assert got[0] == got[1] == got[42]


def test_exporting_4x_more_records_holds_no_more_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(splits_mod, "CHUNK", 32)
    monkeypatch.setattr(table_stream, "ROWS_PER_GROUP", 32)
    small, large = make_store(tmp_path / "s", 250, near_copies=20), make_store(tmp_path / "l", 1000, near_copies=20)

    def held(run, fmt):
        tracemalloc.start()
        try:
            export_run(run, fmt, tmp_path / f"{run.name}-{fmt}", split="0.8,0.1,0.1", system="Sys")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    pytest.importorskip("pyarrow.parquet")  # imported before tracing
    for fmt in ("openai", "parquet"):
        held(small, fmt)  # imports and first-use caches out of the way
        a, b = held(small, fmt), held(large, fmt)
        # loading the records into lists held 1.8 MB more here; the stream holds far less more
        assert b - a < 250_000, (fmt, a, b)


def test_preference_exports_stream_by_prompt(tmp_path):
    # 1,200 pairs; each prompt comes back 600 pairs later with the same chosen text and another rejected one
    rng = random.Random(0)
    prompts = [instruction(rng, i) for i in range(600)]
    rows = [{"prompt": prompts[i % 600], "chosen": f"good {i % 600}", "rejected": f"bad {i}"} for i in range(1200)]
    path = tmp_path / "run" / "data.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = export_run(path.parent, "dpo", tmp_path / "dpo", split="0.8,0.2", seed=3)
    parts = {n: lines(tmp_path / "dpo" / f) for n, f in s.files.items()}
    assert s.counts == {"train": 960, "validation": 240} == {n: len(p) for n, p in parts.items()}
    assert not {r["prompt"] for r in parts["train"]} & {r["prompt"] for r in parts["validation"]}
    s = export_run(path.parent, "kto", tmp_path / "kto", split="1")
    out = lines(tmp_path / "kto" / "train.jsonl")
    assert sum(r["label"] for r in out) == 600 and sum(not r["label"] for r in out) == 1200  # each chosen once
