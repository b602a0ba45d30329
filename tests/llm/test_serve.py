"""`python -m synthloom.llm.serve` picks synthloom's own rendering for a base model's chat requests."""
from __future__ import annotations

from synthloom.llm.serve import CHAT_FORMAT, with_default_chat_format

from ..helpers.llama_server import bundled_model_path


def test_a_base_model_gets_synthloom_rendering_unless_the_user_names_a_format():
    model = str(bundled_model_path())  # a base GGUF with no chat template: vocabulary-only load, no weights
    assert with_default_chat_format(["--model", model, "--port", "8000"]) == [
        "--model", model, "--port", "8000", "--chat_format", CHAT_FORMAT]
    assert with_default_chat_format([f"--model={model}"])[-2:] == ["--chat_format", CHAT_FORMAT]
    for own in (["--model", model, "--chat_format", "gemma"], ["--model", model, "--chat-format=chatml"],
                ["--config_file", "models.json"], ["--port", "8000"]):
        assert with_default_chat_format(own) == own


def test_a_model_the_server_cannot_read_is_left_to_the_server(tmp_path):
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"not a gguf")
    assert with_default_chat_format(["--model", str(bad)]) == ["--model", str(bad)]
