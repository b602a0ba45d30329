"""The LoRA student on the bundled model: a few steps on a memorisable set, the adapter reloaded, the
merged GGUF run by synthloom's llamacpp backend; and the clear errors for bad input (no model needed)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloom.cli import app
from synthloom.errors import UsageError

pytest.importorskip("peft")
pytest.importorskip("torch")

CODES = {"apple": "ZX-41", "river": "QP-07", "candle": "LM-93"}


def _data(path: Path) -> Path:
    rows = [{"instruction": f"Secret code for {w}?", "output": c} for w, c in CODES.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.model
def test_lora_learns_a_memorisable_set_and_the_adapter_changes_the_model(tmp_path):
    from synthloom.config.models import LlamaCppModel
    from synthloom.llm.llamacpp import LlamaCppLLM
    from synthloom.llm.types import GenerationRequest
    from synthloom.train import load_student, train_lora

    out = tmp_path / "student"
    steps = []
    summary = train_lora(_data(tmp_path / "codes.jsonl"), out, split="1", max_steps=5, epochs=5, batch_size=3, lr=5e-3,
                         max_length=48, on_step=steps.append)
    meta = json.loads((out / "student.json").read_text())
    assert [s.step for s in steps] == [1, 2, 3, 4, 5] and all(s.tokens_per_s > 0 for s in steps)
    assert meta["last_loss"] < 0.5 * meta["first_loss"], meta["history"]
    assert {"adapter_config.json", "adapter_model.safetensors", "loss_curve.png", "README.md",
            "student.gguf"} <= {p.name for p in out.iterdir()}
    assert summary.kind == "lora" and "rank 8, alpha 16" in (out / "README.md").read_text()

    # the adapter, reloaded from its PEFT folder, changes what the model writes
    student = load_student(out)
    prompt = [{"role": "user", "content": "Secret code for apple?"}]
    tuned, _, _ = student.generate(prompt, max_new_tokens=8)
    with student.model.disable_adapter():
        base, _, _ = student.generate(prompt, max_new_tokens=8)
    assert tuned != base, (tuned, base)

    # the merged GGUF runs in synthloom's llamacpp backend and answers like the tuned model, not the base
    req = GenerationRequest(messages=tuple(prompt), max_tokens=8, temperature=0.0, seed=0)
    merged = LlamaCppLLM(LlamaCppModel(path=str(out / "student.gguf"), constrained="none")).generate_sync([req])[0]
    assert merged.ok and merged.text.strip() != base


def test_bad_base_and_bad_shape_get_one_clear_error(tmp_path):
    runner = CliRunner()
    data = _data(tmp_path / "codes.jsonl")
    res = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "o"), "--student", "lora",
                              "--base", str(tmp_path / "nope.gguf")])
    msg = " ".join(res.output.split())
    assert res.exit_code == 2 and "nope.gguf: no such file or folder" in msg and "--base" in msg
    (tmp_path / "hf").mkdir()
    res = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "o"), "--student", "lora",
                              "--base", str(tmp_path / "hf")])
    assert res.exit_code == 2 and "has no config.json" in " ".join(res.output.split())
    shapeless = tmp_path / "s.jsonl"
    shapeless.write_text('{"text": "no answer here"}\n')
    res = runner.invoke(app, ["train", str(shapeless), "-o", str(tmp_path / "o"), "--student", "lora"])
    msg = " ".join(res.output.split())
    assert res.exit_code == 2 and "record 1 has neither 'messages' nor an instruction and a response" in msg
    bad_msgs = tmp_path / "m.jsonl"
    bad_msgs.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    res = runner.invoke(app, ["train", str(bad_msgs), "-o", str(tmp_path / "o"), "--student", "lora"])
    assert res.exit_code == 2 and "ends with the assistant's answer" in " ".join(res.output.split())
    assert not (tmp_path / "o").exists()


def test_an_empty_train_split_is_refused(tmp_path):
    from synthloom.train import train_lora

    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "train.jsonl").write_text("")
    with pytest.raises(UsageError, match="the train split has no rows"):
        train_lora(folder, tmp_path / "o")
