"""``python -m synthloom.llm.serve --model FILE ...``: llama-cpp-python's OpenAI-compatible server,
loading models the way synthloom's own backend does (no AMX weight repacking; see
``llamacpp.plain_cpu_weights``). Every option is llama_cpp.server's own.

Chat requests to a base model (a GGUF that is not instruction-tuned, such as the bundled Gemma 3
270M) are rendered as synthloom's own backend renders them (``render.render_completion``: the
system text, ``Input:``/``Output:`` blocks, an open output block, and its stops), through a chat
format registered as ``synthloom``; llama-cpp-python's default for a GGUF without a chat template is
Llama 2's ``[INST]`` markup, which a base model continues with markup of its own. The server uses
it when ``--model`` is one file and no ``--chat_format`` or ``--config_file`` is given, and the
model's metadata says what ``render.choose_style("auto", ...)`` calls a completion model; an
instruction-tuned GGUF keeps its own template. ``--chat_format synthloom`` asks for it outright.
"""
from __future__ import annotations

import sys
from typing import Any

CHAT_FORMAT = "synthloom"


def register_chat_format() -> None:
    """Register the ``synthloom`` chat format with llama-cpp-python (once per process)."""
    from llama_cpp import llama_chat_format as lcf

    if CHAT_FORMAT in lcf.LlamaChatCompletionHandlerRegistry()._chat_handlers:
        return
    from .render import COMPLETION_STOPS, render_completion

    @lcf.register_chat_format(CHAT_FORMAT)
    def _format(messages: list[dict[str, Any]], **kwargs: Any) -> "lcf.ChatFormatterResponse":
        return lcf.ChatFormatterResponse(prompt=render_completion(messages), stop=list(COMPLETION_STOPS))


def _model_style(path: str) -> str:
    """``completion`` or ``chat`` for a GGUF, read from its metadata (vocabulary only: no weights loaded)."""
    import llama_cpp

    from .render import choose_style

    llm = llama_cpp.Llama(path, vocab_only=True, verbose=False)
    try:
        return choose_style("auto", llm.metadata)
    finally:
        llm.close()


def with_default_chat_format(argv: list[str]) -> list[str]:
    """``argv`` plus ``--chat_format synthloom`` when it names one base model and no chat format of its own."""
    options = {a.split("=", 1)[0].replace("-", "_") for a in argv if a.startswith("--")}
    if "__chat_format" in options or "__config_file" in options or "__model" not in options:
        return argv
    model = next((a.split("=", 1)[1] if "=" in a else argv[i + 1] for i, a in enumerate(argv)
                  if a.split("=", 1)[0] == "--model" and ("=" in a or i + 1 < len(argv))), None)
    if not model:
        return argv
    try:
        style = _model_style(model)
    except (ValueError, RuntimeError, OSError):
        return argv  # the server itself reports a model it cannot load
    return [*argv, "--chat_format", CHAT_FORMAT] if style == "completion" else argv


def main(argv: list[str] | None = None) -> None:
    try:
        import llama_cpp
        import llama_cpp.server.__main__ as server_main
    except ImportError as exc:  # pragma: no cover - depends on the install
        sys.exit(f"synthloom.llm.serve needs llama-cpp-python's server extra: pip install 'synthloom[server]' ({exc})")
    from .llamacpp import plain_cpu_weights

    register_chat_format()
    args = with_default_chat_format(list(sys.argv[1:] if argv is None else argv))
    sys.argv = [sys.argv[0], *args]
    # The server loads its model(s) inside main(); keep the patch for the whole process.
    with plain_cpu_weights(llama_cpp):
        server_main.main()


if __name__ == "__main__":
    main()
