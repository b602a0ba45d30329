"""A run split into shards (`--shard i/N`) and merged gives the unsharded run's records; the merge
drops what one shard repeats of another."""
from __future__ import annotations

import json

import pytest
from fakes import ScriptedLLM

from synthloom.config import Recipe
from synthloom.engine import run_recipe
from synthloom.engine.shards import Shard, merge_runs
from synthloom.errors import InputFileError, UsageError

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def recipe(count: int, gates: list | None = None) -> Recipe:
    return Recipe.model_validate({
        "name": "sharded", "count": count, "model": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
        "generate": {"technique": "schema", "schema": SCHEMA, "instruction": "Write one line."},
        "quality": gates if gates is not None else [{"gate": "dedup", "method": "exact"}],
        "checks": [], "engine": {"concurrency": 4, "seed": 7}})


def by_seed(distinct: int | None = None):
    def respond(req):
        n = req.seed if distinct is None else req.seed % distinct
        return {"text": f"record number {n} of the set"}
    return ScriptedLLM(respond)


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_shards_merged_are_the_unsharded_run(tmp_path):
    whole = run_recipe(recipe(30), output=tmp_path / "whole.jsonl", llm=by_seed())
    assert whole.accepted == 30
    parts = []
    for i in range(2):
        s = run_recipe(recipe(30), output=tmp_path / f"s{i}", llm=by_seed(), shard=f"{i}/2")
        assert s.accepted == 15 and s.complete
        parts.append(tmp_path / f"s{i}")
    merged = merge_runs(parts, tmp_path / "merged.jsonl")
    assert merged.accepted == 30 and merged.complete and merged.dropped == []
    got, want = rows(tmp_path / "merged.jsonl"), rows(tmp_path / "whole.jsonl")
    assert sorted(r["text"] for r in got) == sorted(r["text"] for r in want)
    assert len({r["text"] for r in got}) == 30
    # shard i made exactly the slots i, i+2, ... of the whole run
    assert {r["text"] for r in rows(tmp_path / "s0" / "data.jsonl")} < {r["text"] for r in want}
    man = json.loads((tmp_path / "merged.run" / "manifest.json").read_text())
    assert man["counts"]["accepted"] == 30 and [s["shard"] for s in man["shards"]] == ["0/2", "1/2"]
    assert man["status"] == "complete"


def test_merge_drops_what_one_shard_repeats_of_another(tmp_path):
    parts = []
    for i in range(2):
        run_recipe(recipe(8), output=tmp_path / f"s{i}", llm=by_seed(distinct=6), shard=f"{i}/2")
        parts.append(tmp_path / f"s{i}")
    texts = [r["text"] for p in parts for r in rows(p / "data.jsonl")]
    assert len(texts) == 8 and len(set(texts)) < 8  # 6 distinct texts cannot fill two shards of 4 apart
    merged = merge_runs(parts, tmp_path / "m")
    got = [r["text"] for r in rows(tmp_path / "m" / "data.jsonl")]
    assert sorted(got) == sorted(set(texts))
    assert merged.dropped == [("exact_duplicate", 8 - len(set(texts)))] and not merged.complete
    man = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert man["status"] == "incomplete"
    assert man["funnel"]["accepted"] == len(got)


def test_merge_refuses_a_missing_or_doubled_shard(tmp_path):
    run_recipe(recipe(6), output=tmp_path / "s0", llm=by_seed(), shard="0/3")
    with pytest.raises(InputFileError, match=r"shard 1/3, 2/3 is missing"):
        merge_runs([tmp_path / "s0"], tmp_path / "m")
    with pytest.raises(InputFileError, match="given twice"):
        merge_runs([tmp_path / "s0", tmp_path / "s0"], tmp_path / "m")
    other = recipe(6)
    other = other.model_copy(update={"engine": other.engine.model_copy(update={"seed": 8, "concurrency": 2})})
    run_recipe(other, output=tmp_path / "s1", llm=by_seed(), shard="1/3")
    run_recipe(recipe(6).model_copy(update={"engine": recipe(6).engine.model_copy(update={"concurrency": 1})}),
               output=tmp_path / "s2", llm=by_seed(), shard="2/3")  # another concurrency: the same run
    with pytest.raises(InputFileError, match="different recipes"):
        merge_runs([tmp_path / "s0", tmp_path / "s1", tmp_path / "s2"], tmp_path / "m")
    assert not (tmp_path / "m").exists()
    run_recipe(recipe(6), output=tmp_path / "s1b", llm=by_seed(), shard="1/3")
    assert merge_runs([tmp_path / "s0", tmp_path / "s1b", tmp_path / "s2"], tmp_path / "m").accepted == 6
    with pytest.raises(UsageError, match="0 <= i < N"):
        Shard.parse("2/2")
    assert [Shard(i, 3).target(10) for i in range(3)] == [4, 3, 3]


def test_merge_command_writes_one_output_manifest_and_report(tmp_path):
    from typer.testing import CliRunner

    from synthloom.cli import app

    for i in range(2):
        run_recipe(recipe(10), output=tmp_path / f"s{i}", llm=by_seed(), shard=f"{i}/2")
    res = CliRunner().invoke(app, ["merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "-o", str(tmp_path / "all.jsonl")])
    assert res.exit_code == 0, res.output
    assert "merged 2 shards: 10 of 10 records" in res.output
    assert len(rows(tmp_path / "all.jsonl")) == 10
    report = json.loads((tmp_path / "all.run" / "report" / "report.json").read_text())
    assert report["funnel"]["accepted"] == 10 and report["run"]["target"] == 10
    bad = CliRunner().invoke(app, ["merge", str(tmp_path / "s0"), "-o", str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 2 and "shard 1/2 is missing" in bad.output
    assert not (tmp_path / "x.jsonl").exists()


def test_shards_run_past_the_count_make_up_for_cross_shard_duplicates(tmp_path):
    """Shards run with a larger count; the merge keeps the first `count` in slot order: the whole run's records."""
    whole = run_recipe(recipe(10), output=tmp_path / "whole.jsonl", llm=by_seed())
    for i in range(2):
        run_recipe(recipe(14), output=tmp_path / f"s{i}", llm=by_seed(), shard=f"{i}/2")
    merged = merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m.jsonl", count=10)
    assert merged.accepted == whole.accepted == 10 and merged.surplus == 4 and merged.complete
    assert rows(tmp_path / "m.jsonl") == rows(tmp_path / "whole.jsonl")  # same records, same (slot) order
    man = json.loads((tmp_path / "m.run" / "manifest.json").read_text())
    assert man["recipe"]["count"] == 10 and man["funnel"]["accepted"] == 10


class Forget(list):
    def append(self, item) -> None:
        pass


def test_a_run_holds_no_more_memory_for_more_records(tmp_path, monkeypatch):
    """The engine keeps counts, not records; the dedup index moves to its SQLite file past spill_at."""
    import tracemalloc

    from synthloom.engine.writer import BatchWriter
    from synthloom.quality.dedup import DedupIndex

    monkeypatch.setattr(DedupIndex, "spill_at", 50)
    monkeypatch.setattr(BatchWriter, "MAX_PENDING", 64)  # its group commit holds up to this many: a fixed bound

    def held(n: int) -> int:
        """The most Python memory held after any slot of a run of n records."""
        most = [0]
        tracemalloc.start()
        try:
            llm = by_seed()
            llm.requests = Forget()  # the fake's own log of requests is not the engine's memory
            s = run_recipe(recipe(n), output=tmp_path / f"r{n}.jsonl", llm=llm,
                           on_progress=lambda p: most.__setitem__(0, max(most[0], tracemalloc.get_traced_memory()[0])))
            assert s.accepted == n
            return most[0]
        finally:
            tracemalloc.stop()

    held(600)  # imports and first-run caches out of the way
    small, large = held(600), held(2400)
    # a list of 1,800 more records (data + lineage) alone is ~2 MB; the run holds far less more
    assert large - small < 300_000, (small, large)
    assert len(rows(tmp_path / "r2400.jsonl")) == 2400
