"""`synthloom dedup FILE --executor ray`: exact and MinHash dedup on Ray Data, with duplicates that sit in
different shards, deciding exactly as the single-process path does."""
from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from synthloom.cli import app
from synthloom.quality.dedup import dedup_texts

pytestmark = pytest.mark.ray
WORDS = ("invoice refund charge card plan renewal account billing payment order customer support team month "
         "twice cancel upgrade discount receipt balance").split()


def make_file(path, n=300):
    rng = random.Random(5)
    rows = [{"id": i, "text": " ".join(rng.choice(WORDS) for _ in range(30)) + f" ticket {i}"} for i in range(n)]
    dups = []
    for i in range(0, n // 2, 10):  # exact copies (case and punctuation aside) far later in the file
        dups.append({"id": n + i, "text": rows[i]["text"].upper() + "!"})
    for i in range(5, n // 2, 10):  # near copies: one word of thirty changed
        words = rows[i]["text"].split()
        words[3] = "zebra"
        dups.append({"id": 2 * n + i, "text": " ".join(words)})
    rows += dups
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_minhash_dedup_on_ray_equals_one_process(tmp_path, ray_cluster):
    method = "minhash"
    rows = make_file(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(app, ["dedup", str(tmp_path / "in.jsonl"), "-o", str(out), "--field", "text",
                                 "--method", method, "--backend", "numpy", "--executor", "ray"])
    assert r.exit_code == 0, r.output
    kept = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    local = dedup_texts([row["text"] for row in rows], method, backend="numpy")
    assert kept == [row["id"] for row, m in zip(rows, local) if m is None]  # same records, same order
    dropped = {row["id"] for row in rows} - set(kept)
    assert {i for i in dropped if i < 300} == set()  # the first of each group is kept
    assert {300 + i for i in range(0, 150, 10)} <= dropped  # every exact copy, across shards
    assert {600 + i for i in range(5, 150, 10)} <= dropped  # every near copy
    assert "kept 300  duplicates 30  (minhash" in r.output
    assert "INFO" not in r.output  # Ray Data's own logs stay out of the console


def test_dedup_ray_rejects_what_runs_on_one_machine_only(tmp_path, ray_cluster):
    make_file(tmp_path / "in.jsonl", 20)
    r = CliRunner().invoke(app, ["dedup", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                                 "--method", "semantic", "--executor", "ray"])
    assert r.exit_code == 2 and "--method semantic runs on one machine only" in r.output
    assert not (tmp_path / "o.jsonl").exists()
