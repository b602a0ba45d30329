"""The run layer: one owner of a run directory's files, one funnel table, one "no run store" error."""
from __future__ import annotations

import pytest

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.errors import InputFileError, UsageError
from synthloom.records import Record, Rejection
from synthloom.runs import FUNNEL, FUNNEL_LABELS, RunStore, create_store, has_store, open_store, read_manifest
from synthloom.runs.funnel import funnel_counts


def test_a_folder_without_a_store_is_one_error_naming_it_and_what_to_give(tmp_path):
    with pytest.raises(InputFileError) as err:
        open_store(tmp_path, "the run folder of a qa run")
    msg = str(err.value)
    assert msg == f"{tmp_path}: no run store (no store.sqlite here); give the run folder of a qa run"
    assert list(tmp_path.iterdir()) == []  # asking made nothing


def test_funnel_table_drives_the_store_counts_and_the_labels(tmp_path):
    assert [s.step for s in FUNNEL][0] == "generated" and FUNNEL[-1].step == "accepted"
    assert set(FUNNEL_LABELS) == {s.step for s in FUNNEL}
    with create_store(tmp_path) as store:
        store.begin_run("r1", "t", {"generate": {"technique": "schema"}}, {})
        rec = Record(data={"a": 1}, meta={})
        rej = [Rejection(stage=st, reason=f"{st}:x", detail="") for st in
               ("parse", "parse", "validate", "filter", "grounding", "dedup", "judge", "surplus")]
        store.commit_batch("r1", [], [(0, [rec, rec], rej)], {})
        funnel = store.funnel("r1")
    # 2 accepted + 7 rejected (surplus is not a candidate the funnel counts)
    assert funnel == {"generated": 9, "parsed": 7, "valid": 6, "filtered": 4, "unique": 3, "judged": 2,
                      "labelled": 2, "diverse": 2, "accepted": 2}
    assert list(funnel) == [s.step for s in FUNNEL]
    assert funnel_counts([], 0) == dict.fromkeys(funnel, 0)


def test_store_lists_its_runs_newest_first(tmp_path):
    assert not has_store(tmp_path)
    with create_store(tmp_path) as store:
        store.begin_run("gen", "a", {"generate": {"technique": "redteam"}}, {})
        store.begin_run("eval", "b", {"kind": "redteam-eval"}, {})
        store.end_run("eval", "complete", 0.0)
        assert [r for r, _ in store.runs()] == ["eval", "gen"]
        assert store.runs()[1][1]["generate"]["technique"] == "redteam"
    assert has_store(tmp_path)
    with open_store(tmp_path) as again:
        assert isinstance(again, RunStore) and again.latest_run_id() == "eval"


def _recipe(tmp_path, exports=True):
    return Recipe.model_validate({
        "count": 2,
        "generate": {"technique": "schema", "schema": {
            "type": "object", "properties": {"instruction": {"type": "string"}, "output": {"type": "string"}},
            "required": ["instruction", "output"]}},
        "output": {"exports": [{"format": "openai", "path": str(tmp_path / "ft"), "split": "1"}] if exports else []},
    })


def test_the_engine_alone_refuses_declared_exports_before_any_work(tmp_path):
    from synthloom.engine import run_recipe as engine_run

    with pytest.raises(UsageError, match="output.exports"):
        engine_run(_recipe(tmp_path), output=tmp_path / "run", llm=ScriptedLLM(lambda r: {"instruction": "i", "output": "o"}))
    assert list(tmp_path.iterdir()) == []


def test_the_engine_writes_the_run_files_and_hands_exports_to_the_exporter(tmp_path):
    from synthloom.engine import run_recipe as engine_run

    seen = []
    n = {"i": 0}

    def respond(req):
        n["i"] += 1
        return {"instruction": f"say {n['i']}", "output": "ok"}
    s = engine_run(_recipe(tmp_path), output=tmp_path / "run", llm=ScriptedLLM(respond),
                   exporter=lambda run_dir, exp: seen.append((run_dir, exp.format)))
    assert seen == [(tmp_path / "run", "openai")]
    manifest = read_manifest(tmp_path / "run")
    assert manifest["run_id"] == s.run_id and manifest["counts"]["accepted"] == 2
    assert (tmp_path / "run" / "data.jsonl").read_text().count("\n") == 2
