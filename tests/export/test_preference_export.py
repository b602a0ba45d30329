"""Preference exports: TRL's plain and conversational pairs, KTO's unpaired rows, UltraFeedback-style ratings;
splits by prompt; `datasets` loads every one of them."""
from __future__ import annotations

import json

import pytest

from synthloom.errors import UsageError
from synthloom.export.dataset import export_run


def _meta(prompt_id, strategies):
    return {"technique": "preference", "prompt_id": prompt_id, "slot": int(prompt_id[1:]),
            "responses": [{"strategy": s, "model": "m", "temperature": t, "text": text, "score": sc,
                           "ratings": {"helpfulness": {"rating": r, "rationale": f"why {s}"}},
                           "signals": {"completeness": 1.0}} for s, t, text, sc, r in strategies]}


def run_file(tmp_path, n=10):
    rows = []
    for i in range(n):
        resp = [("careful", 0.3, f"good answer {i}", 1.0, 5), ("weak", 1.2, f"bad {i}", 0.0, 1),
                ("varied", 1.0, f"okay answer {i}", 0.5, 3)]
        rows.append({"prompt": f"question {i}?", "chosen": f"good answer {i}", "rejected": f"bad {i}",
                     "score_chosen": 1.0, "score_rejected": 0.0, "_meta": _meta(f"p{i}", resp)})
        if i % 2 == 0:  # all_above_margin: a second pair of the same prompt
            rows.append({"prompt": f"question {i}?", "chosen": f"good answer {i}", "rejected": f"okay answer {i}",
                         "score_chosen": 1.0, "score_rejected": 0.5, "_meta": _meta(f"p{i}", resp)})
    path = tmp_path / "run" / "data.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dpo_plain_and_chat_keep_each_prompt_in_one_split(tmp_path):
    src, rows = run_file(tmp_path)
    s = export_run(src.parent, "dpo", tmp_path / "dpo", split="0.7,0,0.3")
    train, test = read(tmp_path / "dpo" / "train.jsonl"), read(tmp_path / "dpo" / "test.jsonl")
    assert len(train) + len(test) == len(rows) and s.counts == {"train": len(train), "test": len(test)}
    assert all(set(r) == {"prompt", "chosen", "rejected"} for r in train + test)
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
    assert (tmp_path / "dpo" / "README.md").read_text().count("dpo") >= 1
    export_run(src.parent, "dpo-chat", tmp_path / "chat", split="1", system="Be brief.")
    (first, *_rest) = read(tmp_path / "chat" / "train.jsonl")
    assert first["prompt"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "question 0?"}]
    assert first["chosen"] == [{"role": "assistant", "content": "good answer 0"}]
    assert first["rejected"] == [{"role": "assistant", "content": "bad 0"}]


def test_kto_unpairs_without_repeating_a_completion(tmp_path):
    src, rows = run_file(tmp_path)
    export_run(src.parent, "kto", tmp_path / "kto", split="1")
    out = read(tmp_path / "kto" / "train.jsonl")
    assert all(set(r) == {"prompt", "completion", "label"} for r in out)
    q0 = [(r["completion"], r["label"]) for r in out if r["prompt"] == "question 0?"]
    assert q0 == [("good answer 0", True), ("bad 0", False), ("okay answer 0", False)]  # the chosen text once
    assert sum(r["label"] for r in out) == 10 and sum(not r["label"] for r in out) == len(rows)


def test_ultrafeedback_has_one_row_per_prompt_with_ratings(tmp_path):
    src, _rows = run_file(tmp_path)
    export_run(src.parent, "ultrafeedback", tmp_path / "uf", split="1")
    out = read(tmp_path / "uf" / "train.jsonl")
    assert len(out) == 10 and out[0]["instruction"] == "question 0?"
    comps = {c["strategy"]: c for c in out[0]["completions"]}
    assert comps["weak"]["annotations"]["helpfulness"] == {"Rating": "1", "Rationale": "why weak"}
    assert comps["careful"]["overall_score"] == 1.0 and comps["careful"]["response"] == "good answer 0"


def test_every_format_loads_with_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    src, rows = run_file(tmp_path)
    for fmt in ("dpo", "dpo-chat", "kto", "ultrafeedback"):
        export_run(src.parent, fmt, tmp_path / fmt, split="0.8,0,0.2")
        files = {n: str(tmp_path / fmt / f"{n}.jsonl") for n in ("train", "test")}
        ds = datasets.load_dataset("json", data_files=files)
        assert set(ds) == {"train", "test"} and len(ds["train"]) > len(ds["test"]) > 0
        if fmt == "dpo":
            assert ds["train"].column_names == ["prompt", "chosen", "rejected"]
            assert len(ds["train"]) + len(ds["test"]) == len(rows)
    ds = datasets.load_dataset(str(tmp_path / "dpo-chat"))  # the folder alone: the split files are found
    assert ds["train"][0]["chosen"][0]["role"] == "assistant"


def test_records_that_are_not_pairs_are_refused(tmp_path):
    path = tmp_path / "run" / "data.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps({"instruction": "x", "output": "y"}) + "\n")
    with pytest.raises(UsageError, match="record 1 is not a preference pair"):
        export_run(path.parent, "dpo", tmp_path / "o")
    assert not (tmp_path / "o").exists()
