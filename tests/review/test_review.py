"""Spot-check sample and review import: strata, round trip, Wilson interval."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from helpers.scripted_run import make_run
from synthloom.errors import InputFileError
from synthloom.records import Record
from synthloom.review import read_verdicts, stratified_sample, summarize, wilson_interval, write_sample
from synthloom.review.sample import allocate


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(50, 50)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.9287, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_allocation_is_proportional_with_one_per_stratum():
    assert allocate({"a": 80, "b": 15, "c": 5}, 20) == {"a": 16, "b": 3, "c": 1}
    alloc = allocate({"a": 97, "b": 2, "c": 1}, 10)
    assert alloc["b"] >= 1 and alloc["c"] == 1 and sum(alloc.values()) == 10
    assert allocate({"a": 3, "b": 2}, 50) == {"a": 3, "b": 2}  # asking for more than exists gives everything


def test_stratified_sample_covers_rare_strata_and_is_reproducible():
    recs = [Record({"i": i}, {"attributes": {"tone": "rare" if i < 2 else "common"}}) for i in range(100)]
    s1 = stratified_sample(recs, 10, "tone", seed=3)
    s2 = stratified_sample(recs, 10, "tone", seed=3)
    assert [r.data for _, r in s1] == [r.data for _, r in s2]
    counts = Counter(s for s, _ in s1)
    assert counts["rare"] >= 1 and sum(counts.values()) == 10
    assert len({r.data["i"] for _, r in s1}) == 10


def test_sample_markdown_round_trip(tmp_path):
    run_dir = make_run(tmp_path)
    res = write_sample(run_dir, 6, seed=1)
    assert res["by"] == "label" and res["sampled"] == 6 and res["population"] == 8
    md = res["markdown"].read_text()
    # mark the first four records accept and the last two reject
    lines, record = [], 0
    for line in md.splitlines():
        if line.startswith("## "):
            record += 1
        if line == "- [ ] accept" and record <= 4:
            line = "- [x] accept"
        elif line == "- [ ] reject" and record > 4:
            line = "- [x] reject"
        lines.append(line)
    res["markdown"].write_text("\n".join(lines))
    verdicts = read_verdicts(res["markdown"])
    assert len(verdicts) == 6
    r = summarize(verdicts)
    assert (r.reviewed, r.accepted) == (6, 4)
    assert r.precision == pytest.approx(4 / 6)
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(4, 6))
    assert set(r.by_stratum) <= {"pos", "neg"}


def test_jsonl_verdicts_and_notes(tmp_path):
    run_dir = make_run(tmp_path)
    res = write_sample(run_dir, 5, by="tone")
    rows = [json.loads(l) for l in res["jsonl"].read_text().splitlines()]
    assert all(set(r) >= {"id", "stratum", "verdict", "data"} for r in rows)
    for i, r in enumerate(rows):
        r["verdict"] = "reject" if i == 0 else "accept"
        r["note"] = "random words, not a review" if i == 0 else ""
    res["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = summarize(read_verdicts(res["jsonl"]))
    assert (out.reviewed, out.accepted) == (5, 4)
    assert out.rejected_notes == [(rows[0]["id"], "random words, not a review")]


def test_bad_marks_are_clear_errors(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"id": "a", "verdict": "maybe"}) + "\n")
    with pytest.raises(InputFileError, match="maybe"):
        read_verdicts(p)
    md = tmp_path / "s.md"
    md.write_text("## 1. `abc`\n\n- [x] accept\n- [x] reject\n")
    with pytest.raises(InputFileError, match="both"):
        read_verdicts(md)
    with pytest.raises(InputFileError, match="no such file"):
        read_verdicts(tmp_path / "missing.md")


def test_rejected_asked_of_a_run_that_rejected_nothing(caplog):
    """`review -n 3 --rejected 2` on a run whose candidates all passed reviews the accepted sample and says
    so; `-n 0 --rejected 2` has nothing to show and is a clear error."""
    from synthloom.review.items import RunItems, pick_sample

    recs = {r.id: r for r in (Record({"text": f"record {i}", "label": "pos"}, {}) for i in range(5))}
    items = RunItems("runs/all-kept.run", "run1", "all-kept", {}, recs, {})
    with caplog.at_level("WARNING", logger="synthloom.review"):
        ids, _ = pick_sample(items, 3, rejected=2)
    assert len(ids) == 3 and set(ids) <= set(recs)
    assert "no rejected candidate" in caplog.text
    with pytest.raises(InputFileError, match="all-kept.run.*no rejected candidate.*-n N"):
        pick_sample(items, 0, rejected=2)


def test_sample_of_a_run_larger_than_the_pool_reads_a_bounded_sample(tmp_path, monkeypatch):
    from pathlib import Path

    from synthloom.review import sample as sample_mod

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "export"))
    from run_store import make_store

    run_dir = make_store(tmp_path / "run", 400, labels=("a", "b", "c", "d"))
    monkeypatch.setattr(sample_mod, "POOL", 100)
    from synthloom.runs.store import RunStore

    def whole_run(*_a, **_k):
        raise AssertionError("a spot-check sample read every record of the run")

    monkeypatch.setattr(RunStore, "accepted_records", whole_run)
    res = write_sample(run_dir, 20, by="label", seed=3)
    assert res["population"] == 400 and res["sampled"] == 20
    assert set(res["strata"]) == {"a", "b", "c", "d"}
    assert "(20 of 400 accepted records)" in res["markdown"].read_text()
    again = write_sample(run_dir, 20, by="label", seed=3, out=tmp_path / "again")
    assert again["jsonl"].read_text() == res["jsonl"].read_text()
